"""Work orders (工单): a cancellation a person at the line's home province must decide."""
