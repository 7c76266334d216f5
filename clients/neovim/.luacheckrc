-- luacheck clients/neovim tests/neovim/lua  (Debian: lua-check)
std = "luajit"
globals = { "vim" }
max_line_length = 110
codes = true
