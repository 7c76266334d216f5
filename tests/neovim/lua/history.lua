-- :GroundhogHistory opens a scratch buffer listing the versions, newest first.
local H = require("gh_harness")
H.setup()

H.run(function()
  H.wait_client()
  H.request("context/update", { set = { one = 1 } })
  H.request("context/update", { set = { two = 2 } })
  vim.cmd("GroundhogHistory")
  H.wait(function()
    return vim.api.nvim_buf_get_name(0):match("^groundhog://history/")
  end, "the history buffer")
  H.result.name = vim.api.nvim_buf_get_name(0)
  H.result.lines = H.lines()
  H.result.buftype = vim.bo.buftype
  H.result.modifiable = vim.bo.modifiable
  H.result.entries = H.request("context/history").entries
end)
