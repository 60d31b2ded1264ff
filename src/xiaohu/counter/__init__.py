"""The store channel (柜台): documents, the check, payments, cancellation and reversal at a
store, and its cash drawer."""
