-- The server command does not exist: a clear ERROR, for the buffer and for a command.
local H = require("gh_harness")
H.setup({ cmd = { "/nonexistent/bin/groundhog", "serve" } })

H.run(function()
  vim.cmd("GroundhogStatus")
  H.wait(function()
    return #H.messages(vim.log.levels.ERROR) >= 2
  end, "two errors")
  H.result.clients = #vim.lsp.get_clients({ name = "groundhog" })
  vim.cmd("checkhealth groundhog")
  H.result.health = H.lines()
end)
