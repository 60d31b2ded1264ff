"""A national deployment: provinces on several database servers (nodes), messages between them
on a broker, and the work that spans nodes (README, "National deployment")."""
