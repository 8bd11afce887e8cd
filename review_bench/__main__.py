from review_bench.cli import main

main()
