from yunpipe_tui.cli import main

main()
