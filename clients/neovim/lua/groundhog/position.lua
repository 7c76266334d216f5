--- Conversions between Neovim positions (1-based rows, byte columns) and LSP positions
--- (0-based lines, columns in the client's offset encoding, UTF-16 by default).

local M = {}

local has_011 = vim.fn.has("nvim-0.11") == 1

---@param bufnr integer
---@param row0 integer 0-based
---@return string
local function line_of(bufnr, row0)
  return vim.api.nvim_buf_get_lines(bufnr, row0, row0 + 1, false)[1] or ""
end

--- Byte column -> encoded column.
---@param line string
---@param byte_col integer
---@param encoding string
---@return integer
function M.char_of(line, byte_col, encoding)
  byte_col = math.min(math.max(byte_col, 0), #line)
  if encoding == "utf-8" then
    return byte_col
  end
  if has_011 then
    return vim.str_utfindex(line, encoding --[[@as "utf-16"|"utf-32"]], byte_col, false)
  end
  ---@diagnostic disable-next-line: param-type-mismatch, missing-parameter
  local utf32, utf16 = vim.str_utfindex(line, byte_col)
  return encoding == "utf-32" and utf32 or utf16
end

--- Encoded column -> byte column (clamped to the line).
---@param line string
---@param char integer
---@param encoding string
---@return integer
function M.byte_of(line, char, encoding)
  char = math.max(char or 0, 0)
  if encoding == "utf-8" then
    return math.min(char, #line)
  end
  if has_011 then
    return vim.str_byteindex(line, encoding --[[@as "utf-16"|"utf-32"]], char, false)
  end
  local ok, byte = pcall(vim.str_byteindex, line, char, encoding == "utf-16")
  return ok and byte or #line
end

--- LSP position of a Neovim (row, byte col) in a buffer.
---@param bufnr integer
---@param row integer 1-based
---@param col integer 0-based byte
---@param encoding string
---@return lsp.Position
function M.to_lsp(bufnr, row, col, encoding)
  local line = line_of(bufnr, row - 1)
  return { line = row - 1, character = M.char_of(line, col, encoding) }
end

--- Neovim (row, byte col) of an LSP position, clamped to the buffer.
---@param bufnr integer
---@param pos lsp.Position
---@param encoding string
---@return integer row 1-based, integer col 0-based byte
function M.from_lsp(bufnr, pos, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local row0 = math.min(math.max(tonumber(pos.line) or 0, 0), count - 1)
  local line = line_of(bufnr, row0)
  return row0 + 1, M.byte_of(line, tonumber(pos.character) or 0, encoding)
end

return M
