// @ts-check
// The shapes the page reads from the server, as JSDoc types (nothing here runs).

/**
 * A world as `world:listWorlds` lists it (and as the page keeps the chosen one).
 * @typedef {object} WorldStatus
 * @property {string} worldId
 * @property {string} engineId
 * @property {"running" | "inactive" | "stoppedByDeveloper"} status
 * @property {boolean} isDefault
 * @property {string} [smalltownLlmError] why the characters cannot speak, with the fix
 * @property {LlmBudget} [smalltownLlmBudget] set while the hourly token budget is spent
 */

/**
 * @typedef {object} LlmBudget
 * @property {number} tokensPerHour
 * @property {number} resetsAt when talk resumes (ms since the epoch)
 * @property {string} setting the setting that raises the budget
 */

/**
 * `world:worldRoster`: who is here, and which of them are residents (agents).
 * @typedef {object} Roster
 * @property {{id: string, human?: string}[]} players
 * @property {Agent[]} agents
 */

/** @typedef {{id: string, playerId: string}} Agent */

/**
 * A waypoint of a walk: `[x, y, dx, dy, t]`, the tile, the facing and the game time (ms).
 * @typedef {[number, number, number, number, number]} Waypoint
 */

/**
 * `world:playerView`: one player as the page draws it; a walker is sent as its timed path.
 * @typedef {Walking | Standing} PlayerView
 */

/**
 * @typedef {object} PlayerBase
 * @property {string} id
 * @property {string} [human] the token identifier of the person playing it
 * @property {{description?: string, emoji?: string, until: number}} [activity]
 */

/** @typedef {PlayerBase & {path: Waypoint[]}} Walking */
/** @typedef {PlayerBase & {path?: undefined, position: Point, facing: Facing}} Standing */

/** @typedef {{x: number, y: number}} Point */
/** @typedef {{dx: number, dy: number}} Facing */

/**
 * An entry of `world:worldConversations`.
 * @typedef {object} Conversation
 * @property {string} id
 * @property {{playerId: string, status: {kind: "invited" | "walkingOver" | "participating"}}[]} participants
 * @property {{playerId: string}} [isTyping]
 */

/**
 * The world as the page reads it: the roster with each player's latest view.
 * @typedef {object} World
 * @property {PlayerView[]} players
 * @property {Agent[]} agents
 * @property {Conversation[]} conversations
 */

/**
 * A line of `messages:conversationLines`.
 * @typedef {{author: string, authorName: string, text: string}} Line
 */

/**
 * `world:gameDescriptions`: the map and who everyone is.
 * @typedef {object} Descriptions
 * @property {WorldMap} worldMap
 * @property {PlayerDescription[]} playerDescriptions
 * @property {{agentId: string, identity: string, plan: string}[]} agentDescriptions
 */

/**
 * @typedef {object} PlayerDescription
 * @property {string} playerId
 * @property {string} name
 * @property {string} [description]
 * @property {string} character the sprite it wears, `f1`..`f5`
 */

/**
 * The map document: tile layers indexed `[layer][x][y]` (-1: no tile), in tiles.
 * @typedef {object} WorldMap
 * @property {number} width
 * @property {number} height
 * @property {string} tileSetUrl
 * @property {number} tileSetDimX
 * @property {number} tileDim
 * @property {number[][][]} bgTiles
 * @property {number[][][]} objectTiles
 * @property {AnimatedSprite[]} [animatedSprites]
 */

/**
 * An animated sprite: where it stands (in pixels), and its sheet description and animation.
 * @typedef {{x: number, y: number, w: number, h: number, sheet: string, animation: string}} AnimatedSprite
 */

/**
 * `world:playerDetails`: the selected player's past conversations and recent memories.
 * @typedef {object} PlayerDetails
 * @property {PastConversation[]} pastConversations
 * @property {Memory[]} memories
 * @property {DayPlan | null} [plan] a resident's plan for today
 */

/**
 * @typedef {object} DayPlan
 * @property {{time: string, place: string, activity: string, emoji?: string,
 *             steps: string[]}[]} items in time order
 * @property {number | null} current the item under way
 * @property {number} replans
 */

/**
 * @typedef {object} PastConversation
 * @property {string} id
 * @property {string} with the other person's name
 * @property {number} ended ms since the epoch
 * @property {{authorName: string, text: string}[]} messages
 */

/** @typedef {{description: string, importance: number, kind: string, created: number}} Memory */

/**
 * `characters:choosable`: a look a person may pick on joining.
 * @typedef {{character: string, label: string}} Look
 */

/**
 * `characters:sheets`: a character sprite of a world imported from AI Town, its sheet (a
 * stored JSON file: frames, animations, `meta.image`) and AI Town's animation speed.
 * @typedef {{character: string, sheet: string, speed: number}} CharacterSheet
 */

/**
 * `world:joinWorld`'s answer.
 * @typedef {{inputId: string, token: string, tokenIdentifier: string}} Joined
 */

/**
 * `aiTown/main:inputStatus`: what the engine made of an input, once its step is saved.
 * @typedef {{kind: "ok", value: any} | {kind: "error", message: string}} InputResult
 */

export {};
