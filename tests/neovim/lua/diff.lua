-- :GroundhogDiff (head's parent to head), :GroundhogDiff {from} {to}, and a bad argument.
local H = require("gh_harness")
H.setup()

local function open_diff(cmd)
  vim.cmd("only | enew")
  vim.cmd(cmd)
  H.wait(function()
    return vim.api.nvim_buf_get_name(0):match("^groundhog://diff/")
  end, "the diff buffer of " .. cmd)
  return {
    name = vim.api.nvim_buf_get_name(0),
    lines = H.lines(),
    filetype = vim.bo.filetype,
  }
end

H.run(function()
  H.wait_client()
  local base = H.request("context/status").active.version
  H.request("context/update", { set = { keep = "same", change = "old", drop = true } })
  local update = { set = { change = "new", add = { 1, 2 } }, remove = { "drop" } }
  local head = H.request("context/update", update).version
  H.result.base, H.result.head = base, head
  H.result.default = open_diff("GroundhogDiff")
  H.result.explicit = open_diff(("GroundhogDiff %d %d"):format(base, head))
  vim.cmd("GroundhogDiff one")
  H.result.errors = H.messages(vim.log.levels.ERROR)
end)
