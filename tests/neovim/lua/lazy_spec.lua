-- The README's lazy.nvim spec, loaded the way lazy.nvim loads a plugin (the repository root on
-- the runtimepath, its plugin/ files sourced, config(plugin, opts)) and then built the way
-- lazy.nvim runs a `build = ":Command"`; then the server it installed serves the workspace.
local H = require("gh_harness")

H.run(function(params)
  local spec = assert(load("return " .. params.spec, "README lazy.nvim spec"))()
  local plugin = { dir = params.repo, name = "groundhog" }
  vim.opt.runtimepath:prepend(plugin.dir) -- lazy.nvim's Loader.add_to_rtp
  for _, file in ipairs(vim.fn.glob(plugin.dir .. "/plugin/**/*.{lua,vim}", false, true)) do
    vim.cmd.source(file) -- lazy.nvim's packadd (the repository root has no plugin/)
  end
  spec.config(plugin, {})
  assert(spec.build:sub(1, 1) == ":", "the documented build step is an Ex command")
  vim.api.nvim_cmd(vim.api.nvim_parse_cmd(spec.build:sub(2), {}), { output = true })

  H.wait(function()
    for _, msg in ipairs(H.messages(vim.log.levels.ERROR)) do
      error("the install failed: " .. msg, 0)
    end
    for _, msg in ipairs(H.messages(vim.log.levels.INFO)) do
      if msg:find("installed in") then
        return true
      end
    end
  end, "the install to finish", params.install_timeout_ms)
  H.result.venv_link = vim.uv.fs_readlink(require("groundhog.server").venv_dir())
  H.result.data_dir = vim.fn.readdir(require("groundhog.server").data_dir())

  local client = H.wait_client()
  H.result.client_cmd = client.config.cmd
  H.result.status = H.request("context/status")
  vim.cmd("checkhealth groundhog")
  H.result.health = H.lines()

  -- Again, as after an update: a new environment replaces the previous one.
  local before = #H.messages(vim.log.levels.INFO)
  vim.cmd("GroundhogInstall")
  H.wait(function()
    for _, msg in ipairs(vim.list_slice(H.messages(vim.log.levels.INFO), before + 1)) do
      if msg:find("installed in") then
        H.result.reinstalled = msg
        return true
      end
    end
    return #H.messages(vim.log.levels.ERROR) > 0
  end, "the second install to finish", params.install_timeout_ms)
  H.result.venv_link_after = vim.uv.fs_readlink(require("groundhog.server").venv_dir())
  H.result.data_dir_after = vim.fn.readdir(require("groundhog.server").data_dir())
end)
