--- `:checkhealth groundhog`

local M = {}

function M.check()
  local health = vim.health
  local config = require("groundhog.config")
  local const = require("groundhog.constants")
  local gh_client = require("groundhog.client")
  local state = require("groundhog.state")

  health.start("groundhog: Neovim")
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok(("Neovim %s"):format(tostring(vim.version())))
  else
    health.error("Neovim 0.10 or newer is required")
  end
  if vim.fn.has("nvim-0.11") == 0 then
    health.info("vim.lsp.enable('groundhog') needs Neovim 0.11; use require('groundhog').setup()")
  end

  health.start("groundhog: options")
  if #config.problems == 0 then
    health.ok("setup() options are valid")
  else
    for _, problem in ipairs(config.problems) do
      health.warn(problem)
    end
  end
  local o = config.options
  health.info(
    ("restore = %q, throttle_ms = %d, autostart = %s, track_editor = %s, root_markers = %s"):format(
      o.restore,
      o.throttle_ms,
      tostring(o.autostart),
      tostring(o.track_editor),
      table.concat(o.root_markers, ", ")
    )
  )

  health.start("groundhog: server")
  local cmd, problem, origin = gh_client.server_cmd()
  if cmd then
    local where = vim.fn.exepath(cmd[1])
    health.ok(("server command: %s (%s, from %s)"):format(table.concat(cmd, " "), where, origin))
    M.check_version(cmd, origin)
  else
    health.error(problem or "server command missing", {
      "Run :GroundhogInstall to install the server into a private environment",
      "or install it so that `groundhog` is on PATH (pipx install groundhog)",
      'or point `cmd` at it: require("groundhog").setup({ cmd = { "/path/to/groundhog", "serve" } })',
    })
  end
  local root = vim.fs.root(vim.fn.getcwd(), o.root_markers)
  if root then
    health.ok("current directory is in workspace " .. root)
  else
    health.info(
      ("current directory is not under a workspace root (no %s)"):format(table.concat(o.root_markers, ", "))
    )
  end

  local clients = vim.lsp.get_clients({ name = const.CLIENT_NAME })
  if #clients == 0 then
    health.info("no Groundhog client is running")
  end
  for _, c in ipairs(clients) do
    local s = state.peek(c.id)
    health.ok(
      ("client %d: workspace %s, context %s, session %s"):format(
        c.id,
        tostring(c.root_dir),
        state.label(c.id) or "(starting)",
        tostring(s and s.session)
      )
    )
  end
end

--- The server's version against the plugin's.
---@param cmd string[]
---@param origin groundhog.Origin
function M.check_version(cmd, origin)
  local health = vim.health
  local plugin_version = require("groundhog.constants").VERSION
  local version, problem = require("groundhog.server").version(cmd)
  if not version then
    health.warn("the server's version is unknown: " .. tostring(problem))
  elseif version == plugin_version then
    health.ok(("server version %s (from %s), the plugin's version"):format(version, origin))
  else
    health.warn(
      ("server version %s (from %s) differs from the plugin's %s"):format(version, origin, plugin_version),
      origin == "configured" and { "Point `cmd` at a server of the plugin's version" }
        or { "Run :GroundhogInstall to install the server of this plugin's version" }
    )
  end
end

return M
