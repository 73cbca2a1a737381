"""`maildiag audit`: batch analysis of folders, mbox files, Maildirs and Outlook .msg files.

    sources   list the inputs and turn them into tasks (one per message)
    runner    analyse tasks in worker processes, results in input order
    summary   pass rates, findings, per-domain and per-receiver tables, hop delays
    merge     read JSON Lines shard outputs back
    formats/  terminal, json, jsonl, csv and html outputs
    command   the click command
"""
