-- Another session (another process) changes the context: the statusline follows.
local H = require("gh_harness")
H.setup()
H.record_events()

H.run(function(p)
  H.wait_client()
  local gh = require("groundhog")
  H.result.session = H.request("context/status").session.id
  H.result.before = gh.statusline()
  local f = assert(io.open(p.ready_path, "w"))
  f:write("ready")
  f:close()
  H.wait(function()
    return gh.statusline() ~= H.result.before
  end, "the statusline to change after the other session's update", 20000)
  H.result.after = gh.statusline()
end)
