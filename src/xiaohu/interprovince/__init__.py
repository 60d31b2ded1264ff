"""Messages between provinces: what one province does for another, written as a message
addressed to the other province and applied by it (README, "Messages between provinces")."""
