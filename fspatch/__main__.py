from fspatch.cli import main

main()
