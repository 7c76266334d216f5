--- The plugin's options: fully defaulted, validated, merged by `setup()`.
--- An invalid option produces one WARN naming it and keeps that option's default.

local log = require("groundhog.log")

---@alias groundhog.RestoreMode "always"|"ask"|"never"

---@class groundhog.Config
---@field cmd string[]? Command that starts the server over stdio (nil: the private venv's, else PATH's).
---@field cmd_env table<string, string>? Extra environment for the server process.
---@field root_markers string[] Files or directories that mark a workspace root.
---@field autostart boolean Start the server for buffers under a workspace root (and for the cwd at startup).
---@field restore groundhog.RestoreMode On `context/didRestore`: reopen files, ask first, or ignore.
---@field throttle_ms integer At most one `context/didChangeEditor` per this many milliseconds.
---@field track_editor boolean Send the active file and cursors to the server.
---@field init_options table<string, any> `initializationOptions` for the server (see PROTOCOL.md).
---@field python string? The Python `:GroundhogInstall` uses (nil: the first >= 3.11 on PATH).
---@field server_package string? What `:GroundhogInstall` installs (nil: this plugin's checkout).

---@class groundhog.Opts
---@field cmd? string[]
---@field cmd_env? table<string, string>
---@field root_markers? string[]
---@field autostart? boolean
---@field restore? groundhog.RestoreMode
---@field throttle_ms? integer
---@field track_editor? boolean
---@field init_options? table<string, any>
---@field python? string
---@field server_package? string

local M = {}

---@type groundhog.Config
M.defaults = {
  cmd = nil,
  cmd_env = nil,
  root_markers = { ".git", ".hg", ".jj", ".svn" },
  autostart = true,
  restore = "ask",
  throttle_ms = 500,
  track_editor = true,
  init_options = {},
  python = nil,
  server_package = nil,
}

local RESTORE_MODES = { always = true, ask = true, never = true }

---@param v any
---@return boolean
local function is_string_list(v)
  if type(v) ~= "table" or #v == 0 then
    return false
  end
  for _, item in ipairs(v) do
    if type(item) ~= "string" or item == "" then
      return false
    end
  end
  return true
end

---@param v any
---@return boolean
local function is_string_map(v)
  if type(v) ~= "table" then
    return false
  end
  for k, item in pairs(v) do
    if type(k) ~= "string" or type(item) ~= "string" then
      return false
    end
  end
  return true
end

---@param v any
---@return boolean
local function is_path(v)
  return type(v) == "string" and v ~= ""
end

--- Per option: a predicate and what it expects, for the warning.
---@type table<string, {[1]: fun(v: any): boolean, [2]: string}>
local CHECKS = {
  cmd = { is_string_list, "a non-empty list of strings" },
  cmd_env = { is_string_map, "a table of string to string" },
  root_markers = { is_string_list, "a non-empty list of strings" },
  autostart = {
    function(v)
      return type(v) == "boolean"
    end,
    "a boolean",
  },
  restore = {
    function(v)
      return RESTORE_MODES[v] == true
    end,
    '"always", "ask" or "never"',
  },
  throttle_ms = {
    function(v)
      return type(v) == "number" and v >= 0 and math.floor(v) == v
    end,
    "a non-negative integer",
  },
  track_editor = {
    function(v)
      return type(v) == "boolean"
    end,
    "a boolean",
  },
  init_options = {
    function(v)
      return type(v) == "table"
    end,
    "a table",
  },
  python = { is_path, "a non-empty string (a command or a path)" },
  server_package = { is_path, "a non-empty string (a pip requirement, a wheel or a directory)" },
}

---@type groundhog.Config
M.options = vim.deepcopy(M.defaults)

--- Validate `opts` and merge it over the defaults.
---@param opts groundhog.Opts?
---@return groundhog.Config config, string[] problems
function M.resolve(opts)
  local problems = {} ---@type string[]
  local result = vim.deepcopy(M.defaults)
  if opts ~= nil and type(opts) ~= "table" then
    table.insert(problems, "setup() expects a table of options, got " .. type(opts))
    return result, problems
  end
  for key, value in pairs(opts or {}) do
    local check = CHECKS[key]
    if not check then
      table.insert(problems, ("unknown option %q"):format(tostring(key)))
    elseif value ~= nil and value ~= vim.NIL then
      if check[1](value) then
        result[key] = vim.deepcopy(value)
      else
        table.insert(
          problems,
          ("option %q must be %s, got %s; using the default"):format(key, check[2], vim.inspect(value))
        )
      end
    end
  end
  return result, problems
end

--- Replace the current options; warns once about every invalid option.
---@param opts groundhog.Opts?
---@return groundhog.Config
function M.setup(opts)
  local config, problems = M.resolve(opts)
  M.options = config
  M.problems = problems
  M.did_setup = true
  if #problems > 0 then
    log.warn("invalid setup() options:\n" .. table.concat(problems, "\n"))
  end
  return config
end

--- Whether `setup()` ran (`:GroundhogInstall` then starts the server it installed).
M.did_setup = false

--- Problems found by the last `setup()` (for `:checkhealth`).
---@type string[]
M.problems = {}

return M
