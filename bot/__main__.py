from newsbot.bot.cli import main

raise SystemExit(main())
