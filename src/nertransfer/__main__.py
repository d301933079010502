from nertransfer.cli import main

main()
