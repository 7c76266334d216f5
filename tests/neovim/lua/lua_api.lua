-- The Lua API: every command as a function taking a callback; nothing is shown.
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  local gh = require("groundhog")
  local r = {}
  local function call(name, ...)
    local err, res = H.call(gh[name], ...)
    r[name] = { err = err or vim.NIL, res = res or vim.NIL }
    return res
  end
  H.request("context/update", { set = { k = "v1" } })
  call("status")
  call("snapshot", "from lua")
  call("rollback", 1)
  call("new", "lua-ctx")
  call("switch", "default")
  call("history", { limit = 2 })
  call("diff", 1, 2)
  local err = H.call(gh.switch, "no-such-context")
  r.switch_missing = err
  H.result.calls = r
end)
