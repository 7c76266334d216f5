-- :GroundhogNew {name} creates a context and switches to it; a taken name is an ERROR.
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  vim.cmd("GroundhogNew spike/idea-1")
  H.wait(function()
    return require("groundhog").statusline() == "groundhog: spike/idea-1@1"
  end, "the statusline to show the new context")
  H.result.active = H.request("context/status").active
  H.result.names = vim.tbl_map(function(c)
    return c.name
  end, H.request("context/list").contexts)
  vim.cmd("GroundhogNew default")
  H.wait(function()
    return #H.messages(vim.log.levels.ERROR) > 0
  end, "the error for an existing name")
end)
