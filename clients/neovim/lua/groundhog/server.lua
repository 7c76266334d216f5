--- Which server the plugin starts and where it came from: the `cmd` option ("configured"),
--- else the private environment `:GroundhogInstall` made ("private venv"), else `groundhog`
--- on PATH ("PATH"); and the version such a command reports.

local config = require("groundhog.config")

local M = {}

---@alias groundhog.Origin "configured"|"private venv"|"PATH"

---@class groundhog.ServerCmd
---@field cmd string[]
---@field origin groundhog.Origin

local is_windows = vim.fn.has("win32") == 1

--- Where the plugin keeps what it installs.
---@return string
function M.data_dir()
  return vim.fn.stdpath("data") .. "/groundhog"
end

--- The private environment (a symlink to the newest complete install, see install.lua).
---@return string
function M.venv_dir()
  return M.data_dir() .. "/venv"
end

--- A program inside a virtual environment.
---@param venv string
---@param name string
---@return string
function M.venv_program(venv, name)
  if is_windows then
    return ("%s/Scripts/%s.exe"):format(venv, name)
  end
  return ("%s/bin/%s"):format(venv, name)
end

--- The command that starts the server, and its origin.
---@param cmd string[]? an explicit command (counts as configured)
---@return groundhog.ServerCmd
function M.resolve(cmd)
  cmd = cmd or config.options.cmd
  if cmd then
    return { cmd = cmd, origin = "configured" }
  end
  local private = M.venv_program(M.venv_dir(), "groundhog")
  if vim.fn.executable(private) == 1 then
    return { cmd = { private, "serve" }, origin = "private venv" }
  end
  return { cmd = { "groundhog", "serve" }, origin = "PATH" }
end

--- The command printing the version of the server `cmd` starts: everything before its
--- `serve`, then `--version`; nil when `cmd` has no `serve`.
---@param cmd string[]
---@return string[]?
function M.version_cmd(cmd)
  for i, arg in ipairs(cmd) do
    if arg == "serve" then
      local out = vim.list_slice(cmd, 1, i - 1)
      table.insert(out, "--version")
      return out
    end
  end
  return nil
end

--- "0.1.0" from the output of `groundhog --version`.
---@param text string?
---@return string?
function M.parse_version(text)
  return text and text:match("groundhog%s+(%S+)") or nil
end

--- The version the server `cmd` reports (blocking, for `:checkhealth`), or nil and why not.
---@param cmd string[]
---@param timeout_ms integer?
---@return string? version, string? problem
function M.version(cmd, timeout_ms)
  local version_cmd = M.version_cmd(cmd)
  if not version_cmd then
    return nil, "the command has no `serve` argument, so its version cannot be asked"
  end
  local ok, job = pcall(vim.system, version_cmd, { text = true })
  if not ok then
    return nil, ("%s cannot run: %s"):format(version_cmd[1], tostring(job))
  end
  local done = job:wait(timeout_ms or 15000)
  local version = done.code == 0 and M.parse_version(done.stdout) or nil
  if version then
    return version, nil
  end
  local said = vim.trim((done.stderr or "") .. (done.stdout or "")):match("[^\n]*$")
  return nil, ("`%s` exited %d: %s"):format(table.concat(version_cmd, " "), done.code, said)
end

return M
