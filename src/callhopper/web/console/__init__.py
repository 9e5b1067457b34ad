"""The supervisors' and administrators' console: campaigns, contact lists, campaign
ownership and dashboards in the browser, on the services the API uses."""
