-- :GroundhogInstall that cannot succeed: one ERROR, and nothing left in the data directory.
local H = require("gh_harness")
require("groundhog").setup(vim.tbl_extend("force", { restore = "never" }, H.params.setup or {}))

H.run(function(params)
  vim.cmd("GroundhogInstall")
  H.wait(function()
    return #H.messages(vim.log.levels.ERROR) > 0
  end, "the install to fail", params.install_timeout_ms)
  local data_dir = require("groundhog.server").data_dir()
  H.result.data_dir = vim.fn.isdirectory(data_dir) == 1 and vim.fn.readdir(data_dir) or {}
  H.result.log = table.concat(vim.fn.readfile(require("groundhog.install").log_path()), "\n")
  H.result.clients = #vim.lsp.get_clients({ name = "groundhog" })
end)
