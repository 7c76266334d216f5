--- Groundhog for Neovim: the public Lua API.
---
--- Every command function takes an optional callback `cb(err, result)`. With a callback the
--- caller gets the server's answer (or error) and nothing is shown; without one the result
--- is shown (message or scratch buffer) and errors go to `vim.notify` at ERROR level.
--- A selection cancelled by the user calls `cb(nil, nil)`.

local client = require("groundhog.client")
local config = require("groundhog.config")
local const = require("groundhog.constants")
local log = require("groundhog.log")
local state = require("groundhog.state")
local ui = require("groundhog.ui")

local M = {}

local req = const.request

--- A failed request: to the callback, else an ERROR message naming the request.
---@param cb groundhog.Callback?
---@param method string
---@param err groundhog.Error
local function fail(cb, method, err)
  if cb then
    cb(err, nil)
  else
    log.error(("%s failed: %s"):format(method, log.describe(err)))
  end
end

--- Send a request; route the answer to `cb`, or to `present` / an ERROR message.
---@param method string
---@param params table?
---@param cb groundhog.Callback?
---@param present fun(result: any)
---@param on_result? fun(result: any) state bookkeeping, run in both cases
local function run(method, params, cb, present, on_result)
  client.request(method, params, function(err, result)
    if not err and on_result then
      on_result(result)
    end
    if err then
      fail(cb, method, err)
    elseif cb then
      cb(nil, result)
    else
      present(result)
    end
  end)
end

---@param cb groundhog.Callback?
local function cancelled(cb)
  if cb then
    cb(nil, nil)
  end
end

--- The client of the current buffer, if any.
---@return vim.lsp.Client?
local function current_client()
  return client.get(0)
end

--- Name of the current client's active context, if known.
---@return string?
local function active_name()
  local c = current_client()
  local s = c and state.peek(c.id)
  return s and s.name or nil
end

---@param result table {name, version}
local function record_active(result)
  local c = current_client()
  if c and type(result) == "table" and result.name then
    state.set_active(c.id, result.name, result.version)
  end
end

--- Configure the plugin and (unless `autostart = false`) start the server for buffers
--- under a workspace root and for the startup directory.
---@param opts groundhog.Opts?
function M.setup(opts)
  config.setup(opts)
  require("groundhog.autostart").enable(config.options.autostart)
end

--- Raw access to any `context/*` request.
---@param method string
---@param params table?
---@param cb groundhog.Callback
function M.request(method, params, cb)
  client.request(method, params, function(err, result)
    -- Deactivation is the one change of the active context that no notification reports.
    local c = current_client()
    if not err and method == req.deactivate and c then
      state.set_active(c.id, nil, nil)
    end
    cb(err, result)
  end)
end

--- `:GroundhogStatus`
---@param cb groundhog.Callback?
function M.status(cb)
  run(req.status, nil, cb, function(result)
    log.info(ui.format_status(result))
  end, function(result)
    local c = current_client()
    if c then
      require("groundhog.handlers").apply_status(c.id, result)
    end
  end)
end

--- `:GroundhogSnapshot [label]`
---@param label string?
---@param cb groundhog.Callback?
function M.snapshot(label, cb)
  local params = (label and label ~= "") and { label = label } or nil
  run(req.snapshot, params, cb, function(r)
    log.info(("snapshot %s of %s@%s saved"):format(r.id, r.context, tostring(r.version)))
  end)
end

---@param target integer|string
---@return table params
local function rollback_params(target)
  if type(target) == "number" then
    return { toVersion = target }
  end
  local version = tonumber((tostring(target):gsub("^v", "")))
  if version and tostring(target):match("^v?%d+$") then
    return { toVersion = version }
  end
  return { snapshotId = target }
end

---@param r table rollback result
local function present_rollback(r)
  local source = type(r.restoredFrom) == "table" and r.restoredFrom or {}
  local from = source.snapshotId and ("snapshot " .. source.snapshotId)
    or ("version " .. tostring(source.version))
  local changed = type(r.changedKeys) == "table" and r.changedKeys or {}
  local keys = #changed > 0 and table.concat(changed, ", ") or "nothing changed"
  local head = ("%s@%s"):format(r.context, tostring(r.version))
  log.info(("%s rolled back to %s, now %s (%s)"):format(r.context, from, head, keys))
end

--- Let the user pick one of `items` (`{label, ...}`); none to pick: `empty` as an error to `cb`
--- or a warning. A cancelled pick calls `cb(nil, nil)`.
---@param items table[]
---@param prompt string
---@param kind string
---@param empty string
---@param cb groundhog.Callback?
---@param on_choice fun(item: table)
local function pick(items, prompt, kind, empty, cb, on_choice)
  if #items == 0 then
    if cb then
      return cb(client.client_error(empty), nil)
    end
    return log.warn(empty)
  end
  vim.ui.select(items, {
    prompt = prompt,
    kind = kind,
    format_item = function(item)
      return item.label
    end,
  }, function(choice)
    if not choice then
      return cancelled(cb)
    end
    on_choice(choice)
  end)
end

--- Ask which version or snapshot to roll back to.
---@param cb groundhog.Callback?
local function select_rollback(cb)
  client.request(req.history, { limit = 50 }, function(err, history)
    if err then
      return fail(cb, req.history, err)
    end
    client.request(req.snapshots, nil, function(err2, snaps)
      if err2 then
        return fail(cb, req.snapshots, err2)
      end
      local items = {}
      for i, e in ipairs(history.entries or {}) do
        if i > 1 then -- the first entry is the head: rolling back to it changes nothing
          table.insert(items, { label = ui.history_line(e), target = e.version })
        end
      end
      for _, s in ipairs(snaps.snapshots or {}) do
        table.insert(items, { label = ui.snapshot_line(s), target = s.id })
      end
      local empty = "nothing to roll back to: the context has one version and no snapshots"
      pick(items, "groundhog: roll back to", "groundhog.rollback", empty, cb, function(choice)
        M.rollback(choice.target, cb)
      end)
    end)
  end)
end

--- `:GroundhogRollback [version|snapshot id]`; without a target asks with `vim.ui.select`.
---@param target integer|string|nil
---@param cb groundhog.Callback?
function M.rollback(target, cb)
  if target == nil or target == "" then
    select_rollback(cb)
    return
  end
  run(req.rollback, rollback_params(target), cb, present_rollback)
end

--- Ask which of the active context's snapshots to delete (recovery points are not offered).
---@param on_id fun(id: string, label: string)
---@param cb groundhog.Callback?
local function select_snapshot(on_id, cb)
  client.request(req.snapshots, nil, function(err, snaps)
    if err then
      return fail(cb, req.snapshots, err)
    end
    local items = {}
    for _, s in ipairs(snaps.snapshots or {}) do
      if s.label ~= const.RECOVERY_POINT_LABEL then
        table.insert(items, { label = ui.snapshot_line(s), id = s.id })
      end
    end
    local empty = "no snapshots to delete (recovery points are pruned by the server)"
    pick(items, "groundhog: delete snapshot", "groundhog.snapshot", empty, cb, function(choice)
      on_id(choice.id, choice.label)
    end)
  end)
end

--- `:GroundhogSnapshotDelete[!] [snapshot id]`: delete one snapshot of the active context (the
--- context's data and its other snapshots stay as they are). Without an id asks with
--- `vim.ui.select`; asks to confirm unless `opts.confirm == false` (the `!`).
---@param id string?
---@param opts {confirm: boolean?}?
---@param cb groundhog.Callback?
function M.delete_snapshot(id, opts, cb)
  local confirm = not (opts and opts.confirm == false)
  local function delete(snapshot_id, label)
    local function go()
      run(req.delete_snapshot, { snapshotId = snapshot_id }, cb, function(r)
        log.info(("snapshot %s deleted"):format(r.id))
      end)
    end
    if not confirm then
      return go()
    end
    vim.ui.select({ "Delete", "Cancel" }, {
      prompt = ("groundhog: delete %s? It cannot be undone"):format(label),
      kind = "groundhog.confirm",
    }, function(choice)
      if choice == "Delete" then
        return go()
      end
      cancelled(cb)
    end)
  end
  if id and id ~= "" then
    return delete(id, "snapshot " .. id)
  end
  select_snapshot(delete, cb)
end

--- `:GroundhogSwitch [name]`; without a name asks with `vim.ui.select`.
---@param name string?
---@param cb groundhog.Callback?
function M.switch(name, cb)
  if name and name ~= "" then
    run(req.switch, { name = name }, cb, function(r)
      log.info(("switched to %s@%s"):format(r.name, tostring(r.version)))
    end, record_active)
    return
  end
  client.request(req.list, nil, function(err, result)
    if err then
      return fail(cb, req.list, err)
    end
    vim.ui.select(result.contexts or {}, {
      prompt = "groundhog: switch to context",
      kind = "groundhog.switch",
      format_item = function(c)
        return ("%s@%s%s"):format(c.name, tostring(c.version), c.status == "active" and " (active)" or "")
      end,
    }, function(choice)
      if not choice then
        return cancelled(cb)
      end
      M.switch(choice.name, cb)
    end)
  end)
end

--- `:GroundhogNew {name}`: create an empty context and make it active.
---@param name string
---@param cb groundhog.Callback?
function M.new(name, cb)
  if type(name) ~= "string" or name == "" then
    return fail(cb, req.create, client.client_error("a context name is required"))
  end
  run(req.create, { name = name, activate = true }, cb, function(r)
    log.info(("created %s@%s and switched to it"):format(r.name, tostring(r.version)))
  end, record_active)
end

---@param opts {context?: string, limit?: integer}?
---@param cb groundhog.Callback?
function M.history(opts, cb)
  opts = opts or {}
  run(req.history, { context = opts.context, limit = opts.limit }, cb, function(result)
    local name = opts.context or active_name() or "active context"
    ui.scratch("groundhog://history/" .. name, ui.history_lines(name, result), "groundhog-history")
  end)
end

--- `:GroundhogDiff [from] [to]`: defaults to the head's parent and the head.
---@param from integer?
---@param to integer?
---@param cb groundhog.Callback?
function M.diff(from, to, cb)
  if from == nil then
    client.request(req.status, nil, function(err, status)
      if err then
        return fail(cb, req.status, err)
      end
      local head = type(status.active) == "table" and status.active.version or 1
      M.diff(math.max(head - 1, 1), to, cb)
    end)
    return
  end
  run(req.diff, { fromVersion = from, toVersion = to }, cb, function(r)
    local name = active_name() or "context"
    local title = ("groundhog://diff/%s/%s..%s"):format(name, tostring(r.fromVersion), tostring(r.toVersion))
    ui.scratch(title, ui.patch_lines(r.patch), "json")
  end)
end

--- State of the current buffer's client (a copy), or nil.
---@param bufnr integer?
---@return groundhog.ClientState?
function M.state(bufnr)
  local c = client.get(bufnr or 0)
  local s = c and state.peek(c.id)
  return s and vim.deepcopy(s) or nil
end

--- "groundhog: default@12" for the current buffer's workspace; "" when no server runs.
---@param bufnr integer?
---@return string
function M.statusline(bufnr)
  -- Evaluated on every redraw: no file-system walk here, unlike client.get().
  local c = vim.lsp.get_clients({ name = const.CLIENT_NAME, bufnr = bufnr or 0 })[1]
  if not c then
    local all = vim.lsp.get_clients({ name = const.CLIENT_NAME })
    c = #all == 1 and all[1] or nil
  end
  local label = c and state.label(c.id)
  return label and ("groundhog: " .. label) or ""
end

return M
