-- context/didChangeEditor: throttled, with the active file and UTF-16 cursor columns.
local H = require("gh_harness")
H.setup({ throttle_ms = 300 })

H.run(function(p)
  local client = H.wait_client()
  local sent = {}
  local notify = client.notify
  client.notify = function(self, method, params)
    if method == "context/didChangeEditor" then
      table.insert(sent, params)
    end
    return notify(self, method, params)
  end
  vim.wait(400) -- let the startup events go out
  sent = {}

  -- A burst of cursor moves ends at the line with multi-byte characters.
  for col = 0, 9 do
    vim.api.nvim_win_set_cursor(0, { 1, col })
    vim.api.nvim_exec_autocmds("CursorMoved", {})
  end
  vim.api.nvim_win_set_cursor(0, { p.row, p.byte_col })
  vim.api.nvim_exec_autocmds("CursorMoved", {})
  H.wait(function()
    return #sent > 0
  end, "the throttled send")
  vim.wait(700) -- nothing more may follow: the burst is over
  H.result.burst = vim.deepcopy(sent)

  -- A visual selection over the emoji (charwise, inclusive end).
  sent = {}
  vim.api.nvim_win_set_cursor(0, { p.row, p.visual_start })
  vim.api.nvim_feedkeys(vim.keycode("v" .. p.visual_right .. "l"), "nx", false)
  H.result.mode = vim.fn.mode()
  vim.api.nvim_exec_autocmds("CursorMoved", {})
  H.wait(function()
    return #sent > 0
  end, "the visual selection to be sent")
  H.result.visual = sent[#sent]
  vim.api.nvim_feedkeys(vim.keycode("<Esc>"), "nx", false)

  H.result.live = H.request("context/editor")
end)
