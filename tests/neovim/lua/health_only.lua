-- :checkhealth groundhog without starting a server (the command may be a stand-in).
local H = require("gh_harness")
require("groundhog").setup(vim.tbl_extend("force", { autostart = false }, H.params.setup or {}))

H.run(function()
  vim.cmd("checkhealth groundhog")
  H.result.health = H.lines()
end)
