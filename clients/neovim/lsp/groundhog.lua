-- Configuration for vim.lsp.config / vim.lsp.enable (Neovim 0.11+):
--   vim.lsp.enable("groundhog")
-- Options come from require("groundhog").setup() when it ran first, else the defaults;
-- override any field with vim.lsp.config("groundhog", { ... }).
local gh_client = require("groundhog.client")
local options = require("groundhog.config").options

-- vim.lsp.enable only logs a missing command to the LSP log; say it where users look, once
-- the user's overrides are merged into the resolved configuration.
vim.schedule(function()
  local resolved = vim.lsp.config["groundhog"]
  if resolved and type(resolved.cmd) == "table" then
    local _, problem = gh_client.server_cmd(resolved.cmd)
    if problem then
      require("groundhog.log").error_once(problem)
    end
  end
end)

local cfg = gh_client.make_config(nil)
cfg.root_dir = nil
---@diagnostic disable-next-line: inject-field
cfg.root_markers = options.root_markers
---@diagnostic disable-next-line: inject-field
cfg.workspace_required = true
return cfg
