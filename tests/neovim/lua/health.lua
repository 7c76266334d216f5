-- :checkhealth groundhog with a running server.
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  vim.cmd("checkhealth groundhog")
  H.result.health = H.lines()
end)
