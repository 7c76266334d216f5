-- setup(): invalid options give one WARN naming them and keep their defaults.
local H = require("gh_harness")

H.run(function()
  local config = require("groundhog.config")
  require("groundhog").setup({ restore = "sometimes", throttle_ms = -5, colour = "red", autostart = false })
  H.result.options = config.options
  H.result.defaults = config.defaults
  require("groundhog").setup({ restore = "always", throttle_ms = 120, autostart = false })
  H.result.valid = config.options
end)
