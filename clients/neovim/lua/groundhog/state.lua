--- What the plugin knows about each running Groundhog client: its session, the context it
--- has active and that context's head version. Kept current from `context/status`,
--- `context/didChange`, `context/didSwitch` and `context/didRestore`; read by the statusline.

---@class groundhog.ClientState
---@field name string? Active context (nil when none is active or not yet known).
---@field version integer? Head version of the active context.
---@field session string? This session's id (from `context/status`).
---@field workspace string? Workspace URI.
---@field read_only boolean
---@field known boolean True once the active context is known.

local M = {}

---@type table<integer, groundhog.ClientState>
local by_client = {}

---@param client_id integer
---@return groundhog.ClientState
function M.get(client_id)
  local s = by_client[client_id]
  if not s then
    s = { read_only = false, known = false }
    by_client[client_id] = s
  end
  return s
end

---@param client_id integer
---@return groundhog.ClientState?
function M.peek(client_id)
  return by_client[client_id]
end

---@param client_id integer
function M.forget(client_id)
  by_client[client_id] = nil
end

--- Record the active context (nil name: nothing active).
---@param client_id integer
---@param name string?
---@param version integer?
function M.set_active(client_id, name, version)
  local s = M.get(client_id)
  s.name = name
  s.version = version
  s.known = true
end

--- Apply a `context/didChange` (from any session): only the active context's head moves.
---@param client_id integer
---@param context string
---@param version integer
---@return boolean changed
function M.observe_version(client_id, context, version)
  local s = M.get(client_id)
  if s.name ~= context or type(version) ~= "number" then
    return false
  end
  -- Notifications and responses may arrive in either order (PROTOCOL.md point 18);
  -- versions only grow, so never move the head backwards.
  if s.version == nil or version > s.version then
    s.version = version
    return true
  end
  return false
end

--- "name@version", "(none)" when nothing is active, nil while unknown.
---@param client_id integer
---@return string?
function M.label(client_id)
  local s = by_client[client_id]
  if not s or not s.known then
    return nil
  end
  if not s.name then
    return "(none)"
  end
  if s.version then
    return ("%s@%d"):format(s.name, s.version)
  end
  return s.name
end

return M
