-- Harness for the Lua side of the Neovim tests (driven by tests/neovim/conftest.py).
--
-- A test script calls H.run(function(params) ... end). The body runs after VimEnter, inside
-- pcall; whatever it stores in H.result (plus every vim.notify message) is written as JSON to
-- $GH_TEST_RESULT, then Neovim quits: `qall!` on success, `cquit! 1` on any error, so a
-- failing script can never hang headless Neovim. A watchdog timer ends runaway scripts.

local H = {}

H.params = vim.json.decode(os.getenv("GH_TEST_PARAMS") or "{}")
H.result = { notifications = {}, events = {} }

local result_path = assert(os.getenv("GH_TEST_RESULT"), "GH_TEST_RESULT is not set")
local finished = false

vim.notify = function(msg, level)
  table.insert(H.result.notifications, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end

local function write_result()
  local f = assert(io.open(result_path, "w"))
  f:write(vim.json.encode(H.result))
  f:close()
end

---@param message string
local function fail(message)
  if finished then
    return
  end
  finished = true
  H.result.error = message
  pcall(write_result)
  vim.cmd("cquit! 1")
end

--- Wait until cond() is truthy, else raise "timed out waiting for <what>".
---@param cond fun(): any
---@param what string
---@param timeout_ms integer?
function H.wait(cond, what, timeout_ms)
  if not vim.wait(timeout_ms or 10000, function()
    return cond() and true or false
  end, 20) then
    error("timed out waiting for " .. what, 2)
  end
end

--- Call fn(..., cb) and wait for cb(err, result).
---@return any err, any result
function H.call(fn, ...)
  local args = { ... }
  local n = select("#", ...)
  local done, err, res = false, nil, nil
  args[n + 1] = function(e, r)
    done, err, res = true, e, r
  end
  fn(unpack(args, 1, n + 1))
  H.wait(function()
    return done
  end, "a callback", 15000)
  return err, res
end

--- A Groundhog request that must succeed.
---@param method string
---@param params table?
---@return any result
function H.request(method, params)
  local err, res = H.call(require("groundhog").request, method, params)
  if err then
    error(("%s failed: %s"):format(method, vim.inspect(err)), 2)
  end
  return res
end

--- setup() with the server command and options the Python side chose.
---@param overrides table?
function H.setup(overrides)
  local opts = vim.tbl_deep_extend("force", {
    cmd = H.params.server_cmd,
    restore = "never",
    throttle_ms = 50,
    init_options = { editorFlushMs = 50 },
  }, H.params.setup or {}, overrides or {})
  require("groundhog").setup(opts)
end

--- Wait until a Groundhog client is initialized and knows its active context.
---@return vim.lsp.Client
function H.wait_client()
  local client
  H.wait(function()
    for _, msg in ipairs(H.messages(vim.log.levels.ERROR)) do
      error("the client failed to start: " .. msg, 0)
    end
    client = vim.lsp.get_clients({ name = "groundhog" })[1]
    return client
      and client.initialized
      and require("groundhog.state").label(client.id) ~= nil
  end, "the groundhog client to initialize", 15000)
  return client
end

--- Record every `User Groundhog*` autocommand into H.result.events.
function H.record_events()
  vim.api.nvim_create_autocmd("User", {
    pattern = { "GroundhogChanged", "GroundhogRestored" },
    callback = function(args)
      table.insert(H.result.events, { pattern = args.match, data = args.data })
    end,
  })
end

--- Lines of a buffer.
---@param bufnr integer?
---@return string[]
function H.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr or 0, 0, -1, false)
end

--- Notifications recorded so far at or above `level`.
---@param level integer
---@return string[]
function H.messages(level)
  local out = {}
  for _, n in ipairs(H.result.notifications) do
    if n.level >= level then
      table.insert(out, n.msg)
    end
  end
  return out
end

---@param body fun(params: table)
function H.run(body)
  vim.defer_fn(function()
    fail("watchdog: the script did not finish in time")
  end, H.params.watchdog_ms or 30000)
  local function go()
    local ok, err = xpcall(body, debug.traceback, H.params)
    if not ok then
      fail(tostring(err))
      return
    end
    finished = true
    local wrote, werr = pcall(write_result)
    if not wrote then
      io.stderr:write(tostring(werr))
      vim.cmd("cquit! 1")
    end
    vim.cmd("qall!")
  end
  if vim.v.vim_did_enter == 1 then
    vim.schedule(go)
  else
    vim.api.nvim_create_autocmd("VimEnter", {
      once = true,
      callback = function()
        vim.schedule(go)
      end,
    })
  end
end

return H
