--- `:GroundhogInstall`: the server in a private virtual environment under
--- stdpath("data")/groundhog, installed without blocking the editor.
---
--- Find a Python >= 3.11 that has `venv` and `ensurepip`; create `venv-<stamp>` beside the
--- current install; pip install the server into it; check that `groundhog --version` answers;
--- only then point the `venv` symlink at it (a rename, atomic) and remove the previous install.
--- The environment itself is never renamed: its scripts name their interpreter by absolute
--- path, so a renamed venv would not run. Any failure removes the half-made environment and
--- reports one message saying what is missing and what to do; every command's output is in
--- the install log.

local config = require("groundhog.config")
local log = require("groundhog.log")
local server = require("groundhog.server")

local M = {}

local MIN_MAJOR, MIN_MINOR = 3, 11
local CANDIDATES = { "python3", "python", "python3.14", "python3.13", "python3.12", "python3.11" }
local PROBE = table.concat({
  "import sys, importlib.util as u",
  "print('%d.%d.%d' % sys.version_info[:3])",
  "print(int(all(u.find_spec(m) is not None for m in ('venv', 'ensurepip'))))",
}, "\n")
local AGAIN = "then run :GroundhogInstall again"

--- Patterns of pip's output, with what to tell the user.
local DISK_FULL = { "No space left on device", "Errno 28%]" }
local NO_NETWORK = {
  "Failed to establish a new connection",
  "Temporary failure in name resolution",
  "Name or service not known",
  "Network is unreachable",
  "Connection refused",
  "ConnectTimeoutError",
  "ReadTimeoutError",
  "ProxyError",
  "SSLError",
  "No matching distribution found",
  "Could not find a version that satisfies",
}

---@class groundhog.InstallResult
---@field version string
---@field venv string
---@field python string

---@class groundhog.InstallJob
---@field log file*
---@field target string? the environment being made (removed on failure)
---@field python string?
---@field on_done fun(err: string?, result: groundhog.InstallResult?)?

---@type groundhog.InstallJob?
local running = nil
local installs = 0

--- Whether an install is under way (the server then starts when it ends, without an error
--- about a missing server in the meantime).
---@return boolean
function M.running()
  return running ~= nil
end

--- Where the output of every command of the last install goes.
---@return string
function M.log_path()
  return vim.fn.stdpath("log") .. "/groundhog-install.log"
end

--- The checkout this plugin lives in (…/clients/neovim/lua/groundhog/install.lua), when it
--- holds the server's pyproject.toml.
---@return string?
function M.checkout()
  local source = debug.getinfo(1, "S").source:gsub("^@", "")
  local root = vim.fn.fnamemodify(source, ":p:h:h:h:h:h")
  if vim.fn.filereadable(root .. "/pyproject.toml") == 1 then
    return root
  end
  return nil
end

---@param haystack string
---@param patterns string[]
---@return boolean
local function mentions(haystack, patterns)
  for _, pattern in ipairs(patterns) do
    if haystack:find(pattern) then
      return true
    end
  end
  return false
end

--- One sentence for a failed venv or pip run, from what it printed.
---@param what string the step, e.g. "pip install"
---@param result vim.SystemCompleted
---@return string
function M.explain_failure(what, result)
  local output = (result.stdout or "") .. (result.stderr or "")
  if mentions(output, DISK_FULL) then
    return ("the disk is full (No space left on device) under %s: free some space, %s"):format(
      server.data_dir(),
      AGAIN
    )
  end
  if mentions(output, { "ensurepip" }) then
    return ("this Python cannot create environments (no ensurepip): on Debian or Ubuntu "
      .. "`sudo apt install python3-venv`, %s"):format(AGAIN)
  end
  if mentions(output, NO_NETWORK) then
    return ("pip could not download the server's dependencies (no network, no access to the "
      .. "package index, or no such package): connect to the network or set up pip's index or "
      .. "proxy, %s"):format(AGAIN)
  end
  return ("%s failed (exit %d)"):format(what, result.code)
end

---@param job groundhog.InstallJob
---@param message string
---@param with_log boolean? say where the commands' output is
local function fail(job, message, with_log)
  if job.target then
    vim.fn.delete(job.target, "rf")
  end
  job.log:write("FAILED: " .. message .. "\n")
  job.log:close()
  running = nil
  local where = with_log and ("; the commands' output is in " .. M.log_path()) or ""
  log.error(("cannot install the server: %s%s"):format(message, where))
  if job.on_done then
    job.on_done(message, nil)
  end
end

--- Run a command, log what it printed, and call `on_exit` on the main loop.
---@param job groundhog.InstallJob
---@param argv string[]
---@param env table<string, string>?
---@param on_exit fun(result: vim.SystemCompleted)
local function run(job, argv, env, on_exit)
  job.log:write("$ " .. table.concat(argv, " ") .. "\n")
  job.log:flush()
  local ok, err = pcall(
    vim.system,
    argv,
    { text = true, env = env },
    vim.schedule_wrap(function(result)
      job.log:write(result.stdout or "", result.stderr or "", ("(exit %d)\n"):format(result.code))
      job.log:flush()
      on_exit(result)
    end)
  )
  if not ok then
    local message = tostring(err)
    job.log:write(message .. "\n")
    on_exit({ code = -1, signal = 0, stdout = "", stderr = message })
  end
end

--- Version and whether venv + ensurepip exist, from PROBE's output.
---@param result vim.SystemCompleted
---@return string? version, boolean can_make_venv
local function parse_probe(result)
  if result.code ~= 0 then
    return nil, false
  end
  local lines = vim.split(vim.trim(result.stdout or ""), "\n")
  return lines[1] and lines[1]:match("^%d+%.%d+[%.%d]*"), lines[2] == "1"
end

---@param version string
---@return boolean
local function new_enough(version)
  local major, minor = version:match("^(%d+)%.(%d+)")
  major, minor = tonumber(major), tonumber(minor)
  return major > MIN_MAJOR or (major == MIN_MAJOR and minor >= MIN_MINOR)
end

--- The first suitable Python: the `python` option, else the first of CANDIDATES on PATH.
---@param job groundhog.InstallJob
---@param found fun(python: string, version: string)
local function find_python(job, found)
  local configured = config.options.python
  local names = configured and { configured } or CANDIDATES
  local seen = {} ---@type table<string, true>
  local first_problem = nil ---@type string?
  local i = 0
  local function try_next()
    i = i + 1
    local name = names[i]
    if name == nil then
      if first_problem then
        return fail(job, first_problem)
      end
      if configured then
        return fail(
          job,
          ("the `python` option is %q, which is not an executable: point it at a Python %d.%d or "
            .. "newer (:help groundhog-opt-python)"):format(configured, MIN_MAJOR, MIN_MINOR)
        )
      end
      return fail(
        job,
        ("no Python found (looked for %s on PATH): install Python %d.%d or newer (Debian or "
          .. "Ubuntu: `sudo apt install python3 python3-venv`), or set the `python` option to one "
          .. "(:help groundhog-opt-python)"):format(table.concat(CANDIDATES, ", "), MIN_MAJOR, MIN_MINOR)
      )
    end
    local path = vim.fn.exepath(name)
    if path == "" or seen[path] then
      return try_next()
    end
    seen[path] = true
    run(job, { path, "-c", PROBE }, nil, function(result)
      local version, can_make_venv = parse_probe(result)
      local problem
      if not version then
        problem = ("%s does not run as Python (exit %d)"):format(path, result.code)
      elseif not new_enough(version) then
        problem = ("Python %s (%s) is too old: the server needs %d.%d or newer; install a newer "
          .. "Python and set the `python` option to it (:help groundhog-opt-python)"):format(
          version,
          path,
          MIN_MAJOR,
          MIN_MINOR
        )
      elseif not can_make_venv then
        problem = ("Python %s (%s) has no `venv`/`ensurepip` module: on Debian or Ubuntu `sudo apt "
          .. "install python3-venv` (or python%s-venv), %s"):format(
          version,
          path,
          version:match("^%d+%.%d+"),
          AGAIN
        )
      else
        return found(path, version)
      end
      first_problem = first_problem or problem
      try_next()
    end)
  end
  try_next()
end

--- What pip installs: the `server_package` option, else this plugin's checkout.
---@return string? source, string? problem
local function package_source()
  local spec = config.options.server_package
  if spec then
    local expanded = vim.fn.expand(spec)
    if spec:find("/") or spec:match("%.whl$") then
      if vim.fn.filereadable(expanded) == 0 and vim.fn.isdirectory(expanded) == 0 then
        return nil, ("the `server_package` option names %s, which does not exist"):format(expanded)
      end
      return vim.fn.fnamemodify(expanded, ":p"), nil
    end
    return spec, nil
  end
  local checkout = M.checkout()
  if checkout then
    return checkout, nil
  end
  return nil,
    "this plugin is not inside a Groundhog checkout (no pyproject.toml two directories up) and "
      .. "the server is not on PyPI yet: set the `server_package` option to a wheel (`make dist` "
      .. "builds one) or a checkout (:help groundhog-opt-server_package)"
end

--- Point the `venv` link at the finished environment, then remove the previous one.
---@param job groundhog.InstallJob
---@return string? problem
local function switch_into_place(job)
  local link = server.venv_dir()
  local name = vim.fs.basename(job.target)
  local previous = vim.uv.fs_readlink(link)
  local stat = vim.uv.fs_lstat(link)
  local aside = nil
  if stat and stat.type ~= "link" then -- not made by us: keep it until the switch is done
    aside = link .. ".old-" .. name
    local ok, err = vim.uv.fs_rename(link, aside)
    if not ok then
      return ("%s cannot be moved aside: %s"):format(link, err)
    end
  end
  local fresh = link .. ".new-" .. name
  local ok, err = vim.uv.fs_symlink(name, fresh)
  if ok then
    ok, err = vim.uv.fs_rename(fresh, link)
  end
  if not ok then
    vim.uv.fs_unlink(fresh)
    if aside then
      vim.uv.fs_rename(aside, link)
    end
    return ("%s cannot be switched to the new environment: %s"):format(link, err)
  end
  if aside then
    vim.fn.delete(aside, "rf")
  end
  if previous and previous ~= name and not previous:find("/") then -- ours: a sibling's name
    vim.fn.delete(server.data_dir() .. "/" .. previous, "rf")
  end
  return nil
end

---@param job groundhog.InstallJob
---@param version string
local function succeed(job, version)
  local problem = switch_into_place(job)
  if problem then
    return fail(job, problem)
  end
  job.log:write(("installed groundhog %s\n"):format(version))
  job.log:close()
  running = nil
  local note = ""
  if config.options.cmd then
    note = " (your `cmd` option still takes precedence)"
  elseif #vim.lsp.get_clients({ name = require("groundhog.constants").CLIENT_NAME }) > 0 then
    note = "; restart Neovim to use it"
  end
  log.info(("server %s installed in %s%s"):format(version, server.venv_dir(), note))
  if config.did_setup and config.options.autostart and not config.options.cmd then
    require("groundhog.autostart").enable(true) -- start it for the open buffers now
  end
  if job.on_done then
    job.on_done(nil, { version = version, venv = server.venv_dir(), python = job.python })
  end
end

--- pip's settings: no prompts, no version nag, never a --user install from a user's config.
local PIP_ENV = { PIP_NO_INPUT = "1", PIP_DISABLE_PIP_VERSION_CHECK = "1", PIP_USER = "0" }

--- Install the server into the private environment (asynchronous).
---@param on_done fun(err: string?, result: groundhog.InstallResult?)? called at the end
function M.run(on_done)
  if running then
    log.warn("an install is already running; its progress is in " .. M.log_path())
    return
  end
  vim.fn.mkdir(vim.fn.fnamemodify(M.log_path(), ":h"), "p")
  local handle, open_err = io.open(M.log_path(), "w")
  if not handle then
    log.error("cannot install the server: the install log cannot be written: " .. tostring(open_err))
    return
  end
  local job = { log = handle, on_done = on_done } ---@type groundhog.InstallJob
  running = job
  local source, problem = package_source()
  if not source then
    return fail(job, problem or "nothing to install")
  end
  log.info("installing the server: looking for Python " .. MIN_MAJOR .. "." .. MIN_MINOR .. "+ ...")
  find_python(job, function(python, version)
    job.python = python
    vim.fn.mkdir(server.data_dir(), "p")
    installs = installs + 1 -- two installs within a second never share a directory
    local stamp = ("%s-%d-%d"):format(os.date("%Y%m%d%H%M%S"), vim.fn.getpid(), installs)
    job.target = ("%s/venv-%s"):format(server.data_dir(), stamp)
    log.info(("installing the server: creating an environment with Python %s (%s) ..."):format(
      version,
      python
    ))
    run(job, { python, "-m", "venv", job.target }, nil, function(made)
      if made.code ~= 0 then
        return fail(job, M.explain_failure("creating the environment", made), true)
      end
      log.info(("installing the server: pip install %s (about a minute) ..."):format(source))
      local pip = { server.venv_program(job.target, "python"), "-m", "pip", "install", source }
      run(job, pip, PIP_ENV, function(installed)
        if installed.code ~= 0 then
          return fail(job, M.explain_failure("pip install", installed), true)
        end
        local groundhog = server.venv_program(job.target, "groundhog")
        run(job, { groundhog, "--version" }, nil, function(checked)
          local installed_version = checked.code == 0 and server.parse_version(checked.stdout)
          if not installed_version then
            local said = "the installed server does not run (`groundhog --version` exited %d)"
            return fail(job, said:format(checked.code), true)
          end
          succeed(job, installed_version)
        end)
      end)
    end)
  end)
end

return M
