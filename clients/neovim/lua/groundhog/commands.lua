--- The `:Groundhog*` commands' argument handling and completion (the commands themselves
--- are defined in plugin/groundhog.lua and call the public API in `groundhog`).

local client = require("groundhog.client")
local const = require("groundhog.constants")
local log = require("groundhog.log")

local M = {}

--- `:GroundhogDiff [from] [to]`
---@param fargs string[]
function M.diff(fargs)
  if #fargs > 2 then
    log.error(":GroundhogDiff takes at most two versions: [from] [to]")
    return
  end
  local versions = {} ---@type integer[]
  for i, arg in ipairs(fargs) do
    local n = tonumber((arg:gsub("^v", "")))
    if not n or n ~= math.floor(n) then
      log.error((":GroundhogDiff: %q is not a version number"):format(arg))
      return
    end
    versions[i] = n
  end
  require("groundhog").diff(versions[1], versions[2])
end

--- `:GroundhogRollback [target]`
---@param fargs string[]
function M.rollback(fargs)
  require("groundhog").rollback(fargs[1])
end

---@param items string[]
---@param arglead string
---@return string[]
local function matching(items, arglead)
  return vim.tbl_filter(function(item)
    return vim.startswith(item, arglead)
  end, items)
end

--- Context names, for `:GroundhogSwitch` and `:GroundhogHistory`.
---@param arglead string
---@return string[]
function M.complete_contexts(arglead)
  local result = client.request_sync(const.request.list, nil)
  local names = {}
  for _, c in ipairs(result and result.contexts or {}) do
    table.insert(names, c.name)
  end
  return matching(names, arglead)
end

--- Versions and snapshot ids, for `:GroundhogRollback`.
---@param arglead string
---@return string[]
function M.complete_rollback(arglead)
  local items = {}
  local history = client.request_sync(const.request.history, { limit = 50 })
  for _, e in ipairs(history and history.entries or {}) do
    table.insert(items, tostring(e.version))
  end
  local snaps = client.request_sync(const.request.snapshots, nil)
  for _, s in ipairs(snaps and snaps.snapshots or {}) do
    table.insert(items, tostring(s.id))
  end
  return matching(items, arglead)
end

--- Snapshot ids of the active context (not recovery points), for `:GroundhogSnapshotDelete`.
---@param arglead string
---@return string[]
function M.complete_snapshots(arglead)
  local items = {}
  local snaps = client.request_sync(const.request.snapshots, nil)
  for _, s in ipairs(snaps and snaps.snapshots or {}) do
    if s.label ~= const.RECOVERY_POINT_LABEL then
      table.insert(items, tostring(s.id))
    end
  end
  return matching(items, arglead)
end

--- Versions, for `:GroundhogDiff`.
---@param arglead string
---@return string[]
function M.complete_versions(arglead)
  local items = {}
  local history = client.request_sync(const.request.history, { limit = 50 })
  for _, e in ipairs(history and history.entries or {}) do
    table.insert(items, tostring(e.version))
  end
  return matching(items, arglead)
end

return M
