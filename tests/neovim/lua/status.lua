-- :GroundhogStatus shows the active context; the statusline follows the server.
local H = require("gh_harness")
H.setup()

H.run(function()
  local client = H.wait_client()
  H.result.statusline = require("groundhog").statusline()
  H.result.status = H.request("context/status")
  H.result.attached = vim.lsp.buf_is_attached(0, client.id)
  vim.cmd("GroundhogStatus")
  H.wait(function()
    return #H.messages(vim.log.levels.INFO) > 0
  end, "the status message")
  H.request("context/deactivate")
  H.result.deactivated = require("groundhog").statusline()
end)
