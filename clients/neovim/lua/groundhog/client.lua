--- The LSP side: the client configuration, starting the server for a workspace root,
--- finding the client that serves a buffer, and requests that wait for initialization.

local const = require("groundhog.constants")
local config = require("groundhog.config")
local log = require("groundhog.log")

local M = {}

--- An error as the public API reports it: an LSP ResponseError, or one made by the plugin
--- (code nil, data.kind "ClientError").
---@class groundhog.Error
---@field code integer?
---@field message string
---@field data {kind: string}?

---@alias groundhog.Callback fun(err: groundhog.Error?, result: any)

--- Requests waiting for a client's `initialize` to finish, by client id.
---@type table<integer, fun(client: vim.lsp.Client)[]>
local pending = {}

---@param message string
---@return groundhog.Error
function M.client_error(message)
  return { message = message, data = { kind = "ClientError" } }
end

--- The server command (default: the `cmd` option, else the private venv's, else PATH's) and
--- its origin, or nil and a message saying why it cannot run.
---@param cmd string[]?
---@return string[]? cmd, string? problem, groundhog.Origin origin
function M.server_cmd(cmd)
  local resolved = require("groundhog.server").resolve(cmd)
  if vim.fn.executable(resolved.cmd[1]) == 1 then
    return resolved.cmd, nil, resolved.origin
  end
  if resolved.origin == "PATH" then
    return nil,
      "the Groundhog server is not installed (no `groundhog` on PATH, no private environment): "
        .. "run :GroundhogInstall, or install it (pipx install groundhog), or set the `cmd` option "
        .. "(:help groundhog-opt-cmd)",
      resolved.origin
  end
  return nil,
    ("the server command %q is not executable (not found on PATH?); install the Groundhog "
      .. "server or set the `cmd` option (:help groundhog-opt-cmd)"):format(resolved.cmd[1]),
    resolved.origin
end

--- Client configuration for `vim.lsp.start` / `vim.lsp.config`.
---@param root_dir string?
---@return vim.lsp.ClientConfig
function M.make_config(root_dir)
  local opts = config.options
  local handlers = require("groundhog.handlers")
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.general = capabilities.general or {}
  capabilities.general.positionEncodings = { const.POSITION_ENCODING }
  ---@type vim.lsp.ClientConfig
  local cfg = {
    name = const.CLIENT_NAME,
    cmd = require("groundhog.server").resolve().cmd,
    cmd_env = opts.cmd_env,
    root_dir = root_dir,
    init_options = opts.init_options,
    capabilities = capabilities,
    -- On quit, give the server time to answer `shutdown` and persist the last editor state
    -- instead of leaving it an EOF.
    flags = { exit_timeout = 1000 },
    handlers = handlers.table(),
    on_init = handlers.on_init,
    on_exit = handlers.on_exit,
  }
  return cfg
end

--- Absolute file path of a buffer that can belong to a workspace, else nil.
---@param bufnr integer
---@return string?
local function file_of(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a[%w+.-]*://") then
    return nil
  end
  return name
end

--- Workspace root for a buffer or a directory.
---@param source integer|string buffer number or path
---@return string?
function M.find_root(source)
  if type(source) == "number" and not file_of(source) then
    return nil
  end
  return vim.fs.root(source, config.options.root_markers)
end

---@param root string
---@return vim.lsp.Client?
local function client_for_root(root)
  for _, client in ipairs(vim.lsp.get_clients({ name = const.CLIENT_NAME })) do
    if client.root_dir and vim.fs.normalize(client.root_dir) == vim.fs.normalize(root) then
      return client
    end
  end
  return nil
end

---@return boolean
local function can_spawn()
  local _, problem = M.server_cmd()
  if problem then
    if not require("groundhog.install").running() then -- else it starts when the install ends
      log.error_once(problem)
    end
    return false
  end
  return true
end

--- Start (or reuse) the client for the buffer's workspace and attach the buffer.
---@param bufnr integer
---@return integer? client_id
function M.start_for_buffer(bufnr)
  local root = M.find_root(bufnr)
  if not root or not can_spawn() then
    return nil
  end
  return vim.lsp.start(M.make_config(root), { bufnr = bufnr })
end

--- Start (or reuse) the client for the workspace around `dir` without attaching a buffer:
--- used at startup so that `context/didRestore` arrives even when no file was given.
---@param dir string
---@return integer? client_id
function M.start_for_dir(dir)
  local root = vim.fs.root(dir, config.options.root_markers)
  if not root then
    return nil
  end
  local existing = client_for_root(root)
  if existing then
    return existing.id
  end
  if not can_spawn() then
    return nil
  end
  if vim.fn.has("nvim-0.11") == 1 then
    return vim.lsp.start(M.make_config(root), { attach = false })
  end
  ---@diagnostic disable-next-line: deprecated
  return vim.lsp.start_client(M.make_config(root))
end

--- The Groundhog client serving a buffer: attached to it, else the one for its workspace
--- (or the cwd's), else the only one running.
---@param bufnr integer?
---@return vim.lsp.Client?
function M.get(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local attached = vim.lsp.get_clients({ name = const.CLIENT_NAME, bufnr = bufnr })
  if attached[1] then
    return attached[1]
  end
  local root = M.find_root(bufnr) or vim.fs.root(vim.fn.getcwd(), config.options.root_markers)
  local by_root = root and client_for_root(root)
  if by_root then
    return by_root
  end
  local all = vim.lsp.get_clients({ name = const.CLIENT_NAME })
  if #all == 1 then
    return all[1]
  end
  return nil
end

--- The client for a buffer, starting one if the buffer (or the cwd) is in a workspace.
---@param bufnr integer?
---@return vim.lsp.Client? client, string? problem
function M.ensure(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.get(bufnr)
  if client then
    return client, nil
  end
  local _, problem = M.server_cmd()
  if problem then
    return nil, problem
  end
  local id = M.start_for_buffer(bufnr) or M.start_for_dir(vim.fn.getcwd())
  client = id and vim.lsp.get_client_by_id(id) or nil
  if client then
    return client, nil
  end
  return nil,
    ("no Groundhog server for this buffer: neither it nor the current directory is under a "
      .. "workspace root (markers: %s)"):format(table.concat(config.options.root_markers, ", "))
end

--- Run `fn` once the client has finished `initialize`.
---@param client vim.lsp.Client
---@param fn fun(client: vim.lsp.Client)
function M.when_ready(client, fn)
  if client.initialized then
    fn(client)
    return
  end
  pending[client.id] = pending[client.id] or {}
  table.insert(pending[client.id], fn)
end

--- Called from on_init: run what waited for this client.
---@param client vim.lsp.Client
function M.flush_pending(client)
  local queue = pending[client.id] or {}
  pending[client.id] = nil
  for _, fn in ipairs(queue) do
    fn(client)
  end
end

--- Called from on_exit: requests still waiting fail.
---@param client_id integer
function M.fail_pending(client_id)
  local queue = pending[client_id] or {}
  pending[client_id] = nil
  for _, fn in ipairs(queue) do
    fn(nil)
  end
end

local has_011 = vim.fn.has("nvim-0.11") == 1

--- Call a client method: colon form on 0.11+, the 0.10 dot form before.
---@param client vim.lsp.Client
---@param fname "request"|"request_sync"|"notify"
---@return any ...
function M.call(client, fname, ...)
  if has_011 then
    return client[fname](client, ...)
  end
  return client[fname](...)
end

--- Params as a JSON object even when empty (`{}` would encode as an array).
---@param params table?
---@return table
local function as_object(params)
  if params == nil or next(params) == nil then
    return vim.empty_dict()
  end
  return params
end

--- Send a Groundhog request; `callback(err, result)` runs on the main loop.
---@param method string
---@param params table?
---@param callback groundhog.Callback
---@param bufnr integer?
function M.request(method, params, callback, bufnr)
  local client, problem = M.ensure(bufnr)
  if not client then
    callback(M.client_error(problem or "no Groundhog server"), nil)
    return
  end
  M.when_ready(client, function(ready)
    if not ready then
      callback(M.client_error("the Groundhog server exited before it was ready"), nil)
      return
    end
    local ok = M.call(ready, "request", method, as_object(params), function(err, result)
      callback(err, result)
    end)
    if not ok then
      callback(M.client_error("the Groundhog server is not running"), nil)
    end
  end)
end

--- Synchronous request for command-line completion; nil on any failure or timeout.
---@param method string
---@param params table?
---@param timeout_ms integer?
---@return any
function M.request_sync(method, params, timeout_ms)
  local client = M.get(0)
  if not client or not client.initialized then
    return nil
  end
  local response = M.call(client, "request_sync", method, as_object(params), timeout_ms or 500)
  if not response or response.err then
    return nil
  end
  return response.result
end

return M
