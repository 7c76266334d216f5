-- :GroundhogSnapshot [label] and require("groundhog").snapshot(label, cb).
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  H.request("context/update", { set = { plan = "step one" } })
  vim.cmd("GroundhogSnapshot before the refactor")
  H.wait(function()
    return #H.messages(vim.log.levels.INFO) > 0
  end, "the snapshot message")
  local err, api_result = H.call(require("groundhog").snapshot, nil)
  H.result.api_error = err
  H.result.api_result = api_result
  H.result.snapshots = H.request("context/snapshots").snapshots
end)
