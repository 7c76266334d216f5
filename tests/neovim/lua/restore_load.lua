-- Later session: started without files; context/didRestore per the restore option.
local H = require("gh_harness")
H.setup({ restore = H.params.mode })
H.record_events()

local prompts = {}
vim.ui.select = function(items, opts, on_choice)
  table.insert(prompts, { prompt = opts.prompt, items = items })
  for _, item in ipairs(items) do
    if vim.startswith(item, H.params.choice or "") then
      return on_choice(item)
    end
  end
  on_choice(nil)
end

H.run(function()
  H.wait_client()
  -- The server sends didRestore before answering any context request, and handlers run in
  -- order: once this answer is in, the restore (if any) has been handled.
  H.request("context/status")
  H.result.prompts = prompts
  H.result.current = vim.api.nvim_buf_get_name(0)
  H.result.current_cursor = vim.api.nvim_win_get_cursor(0)
  H.result.listed = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.bo[b].buflisted then
      table.insert(H.result.listed, vim.api.nvim_buf_get_name(b))
    end
  end
  H.result.cursors = {}
  H.result.attached = {}
  local client = vim.lsp.get_clients({ name = "groundhog" })[1]
  for _, path in ipairs(H.result.listed) do
    if path ~= "" then
      vim.cmd.buffer(vim.fn.fnameescape(path))
      H.result.cursors[path] = vim.api.nvim_win_get_cursor(0)
      H.result.attached[path] = vim.lsp.buf_is_attached(0, client.id)
    end
  end
end)
