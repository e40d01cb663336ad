"""livechat-graphql: a typed GraphQL facade for Rocket.Chat's Omnichannel livechat."""
