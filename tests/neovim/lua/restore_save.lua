-- First session: visit files, leave their cursors somewhere, wait until the server persisted it.
local H = require("gh_harness")
H.setup()

---@param editor table?
---@param expected table<string, lsp.Position>
local function persisted(editor, active_uri, expected)
  if type(editor) ~= "table" or editor.activeUri ~= active_uri then
    return false
  end
  local found = {}
  for _, sel in ipairs(editor.selections or {}) do
    local start = sel.ranges and sel.ranges[1] and sel.ranges[1].start
    if start then
      found[sel.uri] = start
    end
  end
  for uri, pos in pairs(expected) do
    if not found[uri] or found[uri].line ~= pos.line or found[uri].character ~= pos.character then
      return false
    end
  end
  return true
end

H.run(function(p)
  H.wait_client()
  for _, c in ipairs(p.visits) do
    vim.cmd.buffer(vim.fn.fnameescape(c.path))
    vim.api.nvim_win_set_cursor(0, { c.row, c.col })
    vim.api.nvim_exec_autocmds("CursorMoved", {})
  end
  if p.quit_at_once then
    return -- the last state goes out on ExitPre and must survive the quit
  end
  local editor
  H.wait(function()
    editor = H.request("context/get").editor
    return persisted(editor, p.active_uri, p.expected)
  end, "the editor state to be persisted", 15000)
  H.result.editor = editor
end)
