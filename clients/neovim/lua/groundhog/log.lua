--- User-facing messages: everything goes through `vim.notify` with a level and a
--- "groundhog: " prefix, so users can filter or route them (nvim-notify, noice, ...).

local M = {}

local levels = vim.log.levels

---@param msg string
---@param level integer
local function notify(msg, level)
  local text = "groundhog: " .. msg
  if vim.in_fast_event() then
    vim.schedule(function()
      vim.notify(text, level, { title = "groundhog" })
    end)
  else
    vim.notify(text, level, { title = "groundhog" })
  end
end

---@param msg string
function M.info(msg)
  notify(msg, levels.INFO)
end

---@param msg string
function M.warn(msg)
  notify(msg, levels.WARN)
end

---@param msg string
function M.error(msg)
  notify(msg, levels.ERROR)
end

--- Messages shown once per Neovim session (keyed by the text).
---@type table<string, true>
local shown = {}

---@param msg string
function M.error_once(msg)
  if not shown[msg] then
    shown[msg] = true
    M.error(msg)
  end
end

--- One sentence for an LSP error or a plugin-side failure.
---@param err groundhog.Error|lsp.ResponseError|string
---@return string
function M.describe(err)
  if type(err) == "string" then
    return err
  end
  local message = err.message or tostring(err)
  local kind = type(err.data) == "table" and err.data.kind or nil
  if kind then
    return ("%s (%s)"):format(message, kind)
  end
  return message
end

return M
