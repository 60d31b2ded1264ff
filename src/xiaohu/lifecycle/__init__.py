"""The daily lifecycle run: arrears suspension, warnings, automatic cancellation, numbers back
to the pool; and the scheduler that runs it and the monthly cycle close at their times."""
