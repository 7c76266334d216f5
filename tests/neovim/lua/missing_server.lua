-- The server command does not exist: a clear ERROR, for the buffer, for a command, in
-- :checkhealth, and through vim.lsp.enable.
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

  vim.lsp.config("groundhog", { cmd = { "/nonexistent/bin/groundhog-lsp" } })
  vim.lsp.enable("groundhog")
  H.wait(function()
    return #H.messages(vim.log.levels.ERROR) >= 3
  end, "the error from vim.lsp.enable")
  H.result.clients_after_enable = #vim.lsp.get_clients({ name = "groundhog" })
end)
