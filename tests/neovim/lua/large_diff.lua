-- Views of a state at the 64 MB limit (snapshotMaxBytes at its maximum): :GroundhogDiff of a
-- one-character change to a 15 MiB value, :GroundhogDiff over the whole ~60 MiB history, and
-- :GroundhogHistory. Only sizes go back to Python (the result file stays small).
local H = require("gh_harness")
H.setup({ init_options = { snapshotMaxBytes = 64 * 1024 * 1024 } })

local function open(cmd)
  vim.cmd("only | enew")
  vim.cmd(cmd)
  H.wait(function()
    return vim.api.nvim_buf_get_name(0):match("^groundhog://")
  end, "the buffer of " .. cmd, 60000)
  local lines = H.lines()
  local sizes = {}
  for i, line in ipairs(lines) do
    sizes[i] = #line
  end
  return { name = vim.api.nvim_buf_get_name(0), sizes = sizes, lines = lines }
end

H.run(function(params)
  H.wait_client()
  local part = string.rep("y", params.part_bytes)
  local first = H.request("context/status").active.version
  for i = 0, 3 do
    H.request("context/update", { set = { ["part" .. i] = part } })
  end
  local head = H.request("context/update", { set = { part0 = part .. "!" } }).version
  H.result.first, H.result.head = first, head

  local last = open("GroundhogDiff")
  H.result.last = { name = last.name, sizes = last.sizes, tail = last.lines[2]:sub(-12) }
  last.lines = nil

  local whole = open(("GroundhogDiff %d %d"):format(first, head))
  local ops = {}
  for i = 2, #whole.lines - 1 do
    local op = vim.json.decode((whole.lines[i]:gsub(",$", "")))
    ops[#ops + 1] = { op = op.op, path = op.path, bytes = #op.value }
  end
  H.result.whole = { name = whole.name, ops = ops }
  whole.lines = nil

  local history = open("GroundhogHistory")
  H.result.history = { name = history.name, lines = history.lines }
end)
