--- Editor tracking: sends `context/didChangeEditor` {activeUri, selections} when the cursor
--- comes to rest or another buffer is entered, at most once per `throttle_ms`, and only when
--- something changed. Open/close/change/save already travel as textDocument/* notifications.

local config = require("groundhog.config")
local const = require("groundhog.constants")
local position = require("groundhog.position")

local M = {}

---@type table<integer, true> clients being tracked
local tracked = {}
---@type table<integer, string> last payload sent, per client (JSON)
local last_sent = {}
---@type table<integer, {[1]: integer, [2]: integer}> last cursor of each buffer (row, byte col)
local last_cursor = {}
---@type uv.uv_timer_t?
local timer = nil
--- A send is scheduled on `timer`.
local scheduled = false
--- While > 0 (a restore is running) nothing is sent.
local paused = 0

--- Remember where the cursor of a (possibly hidden) buffer is.
---@param bufnr integer
---@param row integer 1-based
---@param col integer 0-based byte
function M.remember(bufnr, row, col)
  last_cursor[bufnr] = { row, col }
end

--- Range of the visual selection in the current window, else nil.
---@param bufnr integer
---@param enc string
---@return lsp.Range?
local function visual_range(bufnr, enc)
  local mode = vim.fn.mode()
  if mode ~= "v" and mode ~= "V" and mode ~= "\22" then
    return nil
  end
  local a, b = vim.fn.getpos("v"), vim.fn.getpos(".")
  local s_row, s_col, e_row, e_col = a[2], a[3] - 1, b[2], b[3] - 1
  if s_row > e_row or (s_row == e_row and s_col > e_col) then
    s_row, s_col, e_row, e_col = e_row, e_col, s_row, s_col
  end
  local end_line = vim.api.nvim_buf_get_lines(bufnr, e_row - 1, e_row, false)[1] or ""
  if mode == "V" then
    s_col, e_col = 0, #end_line
  else
    -- Visual selections include the character under the end; LSP ranges end after it.
    local char_len = vim.str_utf_end(end_line, e_col + 1) + 1
    e_col = math.min(e_col + char_len, #end_line)
  end
  return {
    start = position.to_lsp(bufnr, s_row, s_col, enc),
    ["end"] = position.to_lsp(bufnr, e_row, e_col, enc),
  }
end

---@param bufnr integer
---@param row integer
---@param col integer
---@param enc string
---@return lsp.Range
local function cursor_range(bufnr, row, col, enc)
  local pos = position.to_lsp(bufnr, row, col, enc)
  return { start = pos, ["end"] = pos }
end

--- The editor event for a client, or nil when the current buffer is not one of its documents.
---@param client vim.lsp.Client
---@return {activeUri: string, selections: {uri: string, ranges: lsp.Range[]}[]}?
function M.collect(client)
  local enc = const.POSITION_ENCODING
  local current = vim.api.nvim_get_current_buf()
  if not client.attached_buffers[current] then
    return nil
  end
  local ranges_by_buf = {} ---@type table<integer, lsp.Range[]>
  local order = {} ---@type integer[]
  local function add(bufnr, range)
    if not ranges_by_buf[bufnr] then
      ranges_by_buf[bufnr] = {}
      table.insert(order, bufnr)
    end
    table.insert(ranges_by_buf[bufnr], range)
  end

  local cur_win = vim.api.nvim_get_current_win()
  local windows = vim.api.nvim_tabpage_list_wins(0)
  table.sort(windows, function(x, y)
    return (x == cur_win and 0 or x) < (y == cur_win and 0 or y)
  end)
  for _, win in ipairs(windows) do
    local bufnr = vim.api.nvim_win_get_buf(win)
    if client.attached_buffers[bufnr] then
      local cursor = vim.api.nvim_win_get_cursor(win)
      M.remember(bufnr, cursor[1], cursor[2])
      local range = win == cur_win and visual_range(bufnr, enc)
        or cursor_range(bufnr, cursor[1], cursor[2], enc)
      add(bufnr, range)
    end
  end
  for bufnr in pairs(client.attached_buffers) do
    local pos = last_cursor[bufnr]
    if pos and not ranges_by_buf[bufnr] and vim.api.nvim_buf_is_loaded(bufnr) then
      add(bufnr, cursor_range(bufnr, pos[1], pos[2], enc))
    end
  end

  local selections = {}
  for _, bufnr in ipairs(order) do
    table.insert(selections, { uri = vim.uri_from_bufnr(bufnr), ranges = ranges_by_buf[bufnr] })
  end
  return { activeUri = vim.uri_from_bufnr(current), selections = selections }
end

--- Send the current editor state to every tracked client whose state changed.
function M.flush()
  if scheduled and timer then
    timer:stop()
  end
  scheduled = false
  if paused > 0 or not config.options.track_editor then
    return
  end
  local client_mod = require("groundhog.client")
  for id in pairs(tracked) do
    local client = vim.lsp.get_client_by_id(id)
    if client and client.initialized then
      local payload = M.collect(client)
      local encoded = payload and vim.json.encode(payload)
      if payload and encoded ~= last_sent[id] then
        last_sent[id] = encoded
        client_mod.call(client, "notify", const.notify.did_change_editor, payload)
      end
    end
  end
end

--- Throttle: the first event starts a timer, events until it fires add nothing, and the
--- state sent is the one at that moment (so the last position always goes out).
function M.schedule()
  if scheduled or paused > 0 or not config.options.track_editor or next(tracked) == nil then
    return
  end
  timer = timer or assert(vim.uv.new_timer())
  scheduled = true
  timer:start(config.options.throttle_ms, 0, vim.schedule_wrap(M.flush))
end

--- Hold back sends while `fn` runs (a restore moves buffers and cursors), then send once.
---@param fn fun()
function M.paused(fn)
  paused = paused + 1
  local ok, err = pcall(fn)
  paused = paused - 1
  M.schedule()
  if not ok then
    error(err, 0)
  end
end

local function create_autocmds()
  local group = vim.api.nvim_create_augroup(const.augroup.editor, { clear = true })
  vim.api.nvim_create_autocmd(
    { "BufEnter", "CursorMoved", "CursorMovedI", "CursorHold", "CursorHoldI", "ModeChanged" },
    { group = group, desc = "groundhog: send editor state", callback = M.schedule }
  )
  vim.api.nvim_create_autocmd({ "BufLeave" }, {
    group = group,
    desc = "groundhog: remember the cursor of the buffer being left",
    callback = function(args)
      local cursor = vim.api.nvim_win_get_cursor(0)
      M.remember(args.buf, cursor[1], cursor[2])
    end,
  })
  vim.api.nvim_create_autocmd({ "ExitPre" }, {
    group = group,
    desc = "groundhog: send the final editor state before the client stops",
    callback = M.flush,
  })
  vim.api.nvim_create_autocmd({ "BufWipeout" }, {
    group = group,
    callback = function(args)
      last_cursor[args.buf] = nil
    end,
  })
end

--- Start tracking for a client (from on_init).
---@param client_id integer
function M.attach(client_id)
  if next(tracked) == nil then
    create_autocmds()
  end
  tracked[client_id] = true
end

--- Stop tracking a client (from on_exit).
---@param client_id integer
function M.detach(client_id)
  tracked[client_id] = nil
  last_sent[client_id] = nil
end

return M
