from review_bench.cli import main

if __name__ == "__main__":  # not again in a child process that imports it (spawn)
    main()
