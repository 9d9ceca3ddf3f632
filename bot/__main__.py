from bot.channels.cli import main

main()
