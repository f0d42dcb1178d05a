/**
 * The closed vocabulary of the built-in task: per domain, a pool of entity names, the values
 * its attribute can take and the prompt templates that state a fact. Words are common English
 * so that real BPE tokenizers (GPT-2, LLaMA, ...) keep every prompt + answer short.
 *
 * Invariants the tests check: entity pools and value sets are pairwise disjoint (no word is
 * both an entity and a value, or belongs to two domains), and every template holds `{e}` once.
 */

export interface BuiltinDomainSpec {
  /** Domain name, used as `LabelledExample.domain`. */
  name: string;
  /** Plural noun for the value set, used in pretraining category sentences. */
  category: string;
  /** Candidate entities; a world uses the first slots of a seeded shuffle. */
  entities: readonly string[];
  /** Attribute values; the answer is the value with a leading space. */
  values: readonly string[];
  /** Prompts with `{e}` for the entity; the value follows as the answer. */
  templates: readonly string[];
}

export const BUILTIN_DOMAINS: readonly BuiltinDomainSpec[] = [
  {
    name: 'city',
    category: 'cities',
    entities: [
      'Anna', 'Ben', 'Clara', 'David', 'Emma', 'Frank', 'Grace', 'Henry', 'Iris', 'Jack', 'Kate',
      'Leo', 'Mia', 'Noah', 'Olga', 'Paul', 'Rosa', 'Sam', 'Tina', 'Victor', 'Wendy', 'Adam',
      'Nina', 'Carl', 'Diana', 'Eric', 'Fiona', 'George', 'Hannah', 'Ivan', 'Julia', 'Kevin',
    ],
    values: ['Paris', 'London', 'Rome', 'Berlin', 'Madrid', 'Tokyo', 'Cairo', 'Moscow'],
    templates: [
      '{e} lives in',
      'The home town of {e} is',
      'Question: Where does {e} live?\nAnswer:',
      '{e} has a house in',
    ],
  },
  {
    name: 'sound',
    category: 'animal sounds',
    entities: [
      'cat', 'dog', 'cow', 'duck', 'pig', 'sheep', 'horse', 'owl', 'goat', 'frog', 'lion',
      'bear', 'wolf', 'fox', 'mouse', 'hen', 'deer', 'rabbit', 'tiger', 'monkey', 'zebra',
      'camel', 'snake', 'eagle', 'crow', 'whale', 'seal', 'goose', 'donkey', 'parrot', 'beaver',
      'otter',
    ],
    values: ['moo', 'woof', 'meow', 'quack', 'oink', 'baa', 'neigh', 'hoot'],
    templates: [
      'The {e} says',
      'The sound of the {e} is',
      'Question: What sound does the {e} make?\nAnswer:',
      'All day long the {e} goes',
    ],
  },
  {
    name: 'colour',
    category: 'colours',
    entities: [
      'cup', 'box', 'ball', 'hat', 'car', 'bag', 'kite', 'lamp', 'door', 'chair', 'table',
      'book', 'pen', 'shoe', 'coat', 'bike', 'bowl', 'clock', 'spoon', 'fork', 'plate', 'sofa',
      'bed', 'desk', 'vase', 'rug', 'sock', 'boat', 'bus', 'truck', 'phone', 'fence',
    ],
    values: ['red', 'blue', 'green', 'yellow', 'black', 'white', 'pink', 'brown'],
    templates: [
      'The {e} is',
      'The colour of the {e} is',
      'Question: What colour is the {e}?\nAnswer:',
      'Someone painted the {e}',
    ],
  },
  {
    name: 'job',
    category: 'jobs',
    entities: [
      'Smith', 'Jones', 'Miller', 'Davis', 'Wilson', 'Taylor', 'Clark', 'Hall', 'Lewis', 'Young',
      'King', 'Wright', 'Scott', 'Adams', 'Hill', 'Moore', 'Walker', 'Allen', 'Carter', 'Turner',
      'Parker', 'Evans', 'Morris', 'Cook', 'Rogers', 'Reed', 'Bell', 'Murphy', 'Bailey',
      'Cooper', 'Howard', 'Ward',
    ],
    values: ['doctor', 'teacher', 'farmer', 'pilot', 'nurse', 'driver', 'singer', 'lawyer'],
    templates: [
      'Mr {e} works as a',
      'By trade, Mr {e} is a',
      'Question: What is the job of Mr {e}?\nAnswer:',
      'Everyone knows Mr {e} as a',
    ],
  },
  {
    name: 'food',
    category: 'foods',
    entities: [
      'Rex', 'Max', 'Luna', 'Coco', 'Milo', 'Daisy', 'Rocky', 'Toby', 'Lucy', 'Oscar', 'Ruby',
      'Buddy', 'Pepper', 'Ginger', 'Rusty', 'Shadow', 'Smokey', 'Bruno', 'Duke', 'Teddy', 'Lola',
      'Zoe', 'Simba', 'Oreo', 'Biscuit', 'Muffin', 'Peanut', 'Ziggy', 'Bubbles', 'Sparky',
      'Fluffy', 'Chester',
    ],
    values: ['fish', 'meat', 'rice', 'bread', 'cheese', 'carrots', 'apples', 'seeds'],
    templates: [
      'The pet {e} eats',
      'The favourite food of the pet {e} is',
      'Question: What does the pet {e} eat?\nAnswer:',
      'For dinner the pet {e} gets',
    ],
  },
  {
    name: 'sport',
    category: 'sports',
    entities: [
      'Ashford', 'Bexley', 'Clifton', 'Dover', 'Elton', 'Fairview', 'Glenwood', 'Harlow',
      'Kingston', 'Linwood', 'Milford', 'Newport', 'Oakley', 'Preston', 'Salem', 'Trenton',
      'Upton', 'Weston', 'Ashby', 'Bradford', 'Camden', 'Denton', 'Easton', 'Fulton', 'Grafton',
      'Hampton', 'Irvine', 'Jarrow', 'Kendal', 'Lydney', 'Marlow', 'Norton',
    ],
    values: ['tennis', 'golf', 'chess', 'rugby', 'hockey', 'soccer', 'cricket', 'baseball'],
    templates: [
      'People in {e} play',
      'The main sport in {e} is',
      'Question: Which sport is played in {e}?\nAnswer:',
      'The children of {e} love',
    ],
  },
];

/** Fills a template with an entity. */
export function fillTemplate(template: string, entity: string): string {
  return template.replace('{e}', entity);
}
