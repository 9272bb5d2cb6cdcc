"""Station's long-running processes, each started by `station run` or its own CLI command, never at import:
the print worker (sends queued labels and watches the printers), the scanner service (reads the stations'
own serial or simulated scanners) and the expiry job (moves lots past their date)."""
