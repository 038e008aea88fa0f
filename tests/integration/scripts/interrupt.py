raise KeyboardInterrupt("pretend Ctrl-C")
