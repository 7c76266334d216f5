-- vim.lsp.config / vim.lsp.enable with lsp/groundhog.lua, without setup().
local H = require("gh_harness")

H.run(function(p)
  vim.lsp.config("groundhog", { cmd = p.server_cmd })
  vim.lsp.enable("groundhog")
  local client = H.wait_client()
  H.result.root_dir = client.root_dir
  H.result.attached = vim.lsp.buf_is_attached(0, client.id)
  H.result.statusline = require("groundhog").statusline()
  H.result.active = H.request("context/status").active
end)
