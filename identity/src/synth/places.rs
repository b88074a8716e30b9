//! Place and contact data: street names and suffixes, cities, states with
//! their ZIP prefixes and area codes, email domains and handle words.

/// Street names.
#[rustfmt::skip]
pub(super) const STREETS: &[&str] = &[
    "Main", "Oak", "Maple", "Park", "Washington", "Lincoln", "Cedar", "Elm", "Pine", "Lake",
    "Hill", "Sunset", "Walnut", "Spring", "Church", "Highland", "Jackson", "Chestnut", "Ridge",
    "Meadow", "River", "Forest", "Willow", "Jefferson", "Madison", "Franklin", "Adams", "Center",
    "Mill", "School", "North", "South", "West", "East", "Broad", "Market", "Union", "Water",
    "Bridge", "Front", "Grove", "Prospect", "Railroad", "Liberty", "Locust", "Laurel", "Birch",
    "Magnolia", "Sycamore", "Hickory", "Dogwood", "Juniper", "Aspen", "Poplar", "Spruce",
    "Holly", "Valley", "Canyon", "Mesa", "Vista", "Harbor", "Bay", "Ocean", "Shore", "Beach",
    "Orchard", "Garden", "Country Club", "College", "University", "Academy", "Mountain View",
    "Lakeview", "Fairview", "Riverside", "Woodland", "Green", "Rose", "Lilac", "Ivy", "Sunrise",
    "Cherry", "Peach", "Pecan", "Cypress", "Redwood", "Sequoia", "Palm", "Olive", "Mission",
    "Santa Fe", "El Camino", "Alameda", "Rio Grande", "Monroe", "Hamilton", "Grant", "Wilson",
    "Kennedy", "Roosevelt", "King", "Martin Luther King Jr", "Cleveland", "Harrison", "Pierce",
    "Taylor", "Polk", "Tyler", "Hayes", "Garfield", "Arthur", "Clay", "Webster", "Hancock",
    "Warren", "Greenwood", "Brookside", "Stonegate", "Windsor", "Cambridge", "Oxford", "Essex",
    "Dover", "Kingston", "Providence", "Heritage", "Pioneer", "Frontier", "Ranch", "Prairie",
    "Quail", "Eagle", "Hawk", "Falcon", "Cardinal", "Robin", "Bluebird", "Deer", "Fox Run",
    "Old Mill", "Stage Coach", "Depot", "Commerce", "Industrial", "Airport", "Foothill",
    "First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
    "Tenth", "12th", "14th", "23rd", "42nd",
];

/// Street suffixes: `(full, abbreviated)`.
pub(super) const SUFFIXES: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Boulevard", "Blvd"),
    ("Place", "Pl"),
    ("Way", "Way"),
];

/// US states (and DC): code, first and last 3-digit ZIP prefix, area codes.
#[rustfmt::skip]
pub(super) const STATES: &[(&str, u32, u32, &[u32])] = &[
    ("AL", 350, 369, &[205, 251, 256, 334]), ("AK", 995, 999, &[907]),
    ("AZ", 850, 865, &[480, 520, 602, 623, 928]), ("AR", 716, 729, &[479, 501, 870]),
    ("CA", 900, 961, &[209, 213, 310, 323, 408, 415, 510, 530, 559, 562, 619, 626, 650, 661,
        707, 714, 760, 805, 818, 831, 858, 909, 916, 925, 949, 951]),
    ("CO", 800, 816, &[303, 719, 720, 970]), ("CT", 60, 69, &[203, 860]),
    ("DE", 197, 199, &[302]), ("DC", 200, 205, &[202]),
    ("FL", 320, 349, &[239, 305, 321, 352, 386, 407, 561, 727, 754, 772, 786, 813, 850, 863,
        904, 941, 954]),
    ("GA", 300, 319, &[229, 404, 470, 478, 678, 706, 770, 912]), ("HI", 967, 968, &[808]),
    ("ID", 832, 838, &[208]), ("IL", 600, 629, &[217, 224, 309, 312, 618, 630, 708, 773, 815, 847]),
    ("IN", 460, 479, &[219, 260, 317, 574, 765, 812]), ("IA", 500, 528, &[319, 515, 563, 641, 712]),
    ("KS", 660, 679, &[316, 620, 785, 913]), ("KY", 400, 427, &[270, 502, 606, 859]),
    ("LA", 700, 714, &[225, 318, 337, 504, 985]), ("ME", 39, 49, &[207]),
    ("MD", 206, 219, &[240, 301, 410, 443]), ("MA", 10, 27, &[339, 413, 508, 617, 774, 781, 978]),
    ("MI", 480, 499, &[231, 248, 269, 313, 517, 586, 616, 734, 810, 906, 989]),
    ("MN", 550, 567, &[218, 320, 507, 612, 651, 763, 952]), ("MS", 386, 397, &[228, 601, 662]),
    ("MO", 630, 658, &[314, 417, 573, 636, 660, 816]), ("MT", 590, 599, &[406]),
    ("NE", 680, 693, &[308, 402]), ("NV", 889, 898, &[702, 775]), ("NH", 30, 38, &[603]),
    ("NJ", 70, 89, &[201, 609, 732, 856, 908, 973]), ("NM", 870, 884, &[505, 575]),
    ("NY", 100, 149, &[212, 315, 347, 516, 518, 585, 607, 631, 646, 716, 718, 845, 914, 917]),
    ("NC", 270, 289, &[252, 336, 704, 828, 910, 919, 980]), ("ND", 580, 588, &[701]),
    ("OH", 430, 458, &[216, 234, 330, 419, 440, 513, 614, 740, 937]),
    ("OK", 730, 749, &[405, 580, 918]), ("OR", 970, 979, &[503, 541, 971]),
    ("PA", 150, 196, &[215, 267, 412, 484, 570, 610, 717, 724, 814]), ("RI", 28, 29, &[401]),
    ("SC", 290, 299, &[803, 843, 864]), ("SD", 570, 577, &[605]),
    ("TN", 370, 385, &[423, 615, 731, 865, 901, 931]),
    ("TX", 750, 799, &[210, 214, 254, 281, 325, 361, 409, 432, 469, 512, 713, 806, 817, 830,
        832, 903, 915, 936, 940, 956, 972, 979]),
    ("UT", 840, 847, &[385, 435, 801]), ("VT", 50, 59, &[802]),
    ("VA", 220, 246, &[276, 434, 540, 571, 703, 757, 804]),
    ("WA", 980, 994, &[206, 253, 360, 425, 509]), ("WV", 247, 268, &[304]),
    ("WI", 530, 549, &[262, 414, 608, 715, 920]), ("WY", 820, 831, &[307]),
];

/// Cities and their state, the biggest first (they get more ZIP codes).
#[rustfmt::skip]
pub(super) const CITIES: &[(&str, &str)] = &[
    ("New York", "NY"), ("Los Angeles", "CA"), ("Chicago", "IL"), ("Houston", "TX"),
    ("Phoenix", "AZ"), ("Philadelphia", "PA"), ("San Antonio", "TX"), ("San Diego", "CA"),
    ("Dallas", "TX"), ("Austin", "TX"), ("Jacksonville", "FL"), ("Fort Worth", "TX"),
    ("San Jose", "CA"), ("Columbus", "OH"), ("Charlotte", "NC"), ("Indianapolis", "IN"),
    ("San Francisco", "CA"), ("Seattle", "WA"), ("Denver", "CO"), ("Oklahoma City", "OK"),
    ("Nashville", "TN"), ("Washington", "DC"), ("El Paso", "TX"), ("Las Vegas", "NV"),
    ("Boston", "MA"), ("Detroit", "MI"), ("Portland", "OR"), ("Louisville", "KY"),
    ("Memphis", "TN"), ("Baltimore", "MD"), ("Milwaukee", "WI"), ("Albuquerque", "NM"),
    ("Tucson", "AZ"), ("Fresno", "CA"), ("Sacramento", "CA"), ("Mesa", "AZ"),
    ("Kansas City", "MO"), ("Atlanta", "GA"), ("Omaha", "NE"), ("Colorado Springs", "CO"),
    ("Raleigh", "NC"), ("Long Beach", "CA"), ("Virginia Beach", "VA"), ("Miami", "FL"),
    ("Oakland", "CA"), ("Minneapolis", "MN"), ("Tulsa", "OK"), ("Bakersfield", "CA"),
    ("Wichita", "KS"), ("Arlington", "TX"), ("Aurora", "CO"), ("Tampa", "FL"),
    ("New Orleans", "LA"), ("Cleveland", "OH"), ("Honolulu", "HI"), ("Anaheim", "CA"),
    ("Lexington", "KY"), ("Stockton", "CA"), ("Corpus Christi", "TX"), ("Henderson", "NV"),
    ("Riverside", "CA"), ("Newark", "NJ"), ("Saint Paul", "MN"), ("Santa Ana", "CA"),
    ("Cincinnati", "OH"), ("Irvine", "CA"), ("Orlando", "FL"), ("Pittsburgh", "PA"),
    ("St. Louis", "MO"), ("Greensboro", "NC"), ("Jersey City", "NJ"), ("Anchorage", "AK"),
    ("Lincoln", "NE"), ("Plano", "TX"), ("Durham", "NC"), ("Buffalo", "NY"), ("Chandler", "AZ"),
    ("Chula Vista", "CA"), ("Toledo", "OH"), ("Madison", "WI"), ("Gilbert", "AZ"),
    ("Reno", "NV"), ("Fort Wayne", "IN"), ("North Las Vegas", "NV"), ("St. Petersburg", "FL"),
    ("Lubbock", "TX"), ("Irving", "TX"), ("Laredo", "TX"), ("Winston-Salem", "NC"),
    ("Chesapeake", "VA"), ("Glendale", "AZ"), ("Garland", "TX"), ("Scottsdale", "AZ"),
    ("Norfolk", "VA"), ("Boise", "ID"), ("Fremont", "CA"), ("Spokane", "WA"),
    ("Santa Clarita", "CA"), ("Baton Rouge", "LA"), ("Richmond", "VA"), ("Hialeah", "FL"),
    ("San Bernardino", "CA"), ("Tacoma", "WA"), ("Modesto", "CA"), ("Huntsville", "AL"),
    ("Des Moines", "IA"), ("Yonkers", "NY"), ("Rochester", "NY"), ("Moreno Valley", "CA"),
    ("Fayetteville", "NC"), ("Fontana", "CA"), ("Columbus", "GA"), ("Worcester", "MA"),
    ("Port St. Lucie", "FL"), ("Little Rock", "AR"), ("Augusta", "GA"), ("Oxnard", "CA"),
    ("Birmingham", "AL"), ("Montgomery", "AL"), ("Frisco", "TX"), ("Amarillo", "TX"),
    ("Salt Lake City", "UT"), ("Grand Rapids", "MI"), ("Huntington Beach", "CA"),
    ("Overland Park", "KS"), ("Glendale", "CA"), ("Tallahassee", "FL"), ("Grand Prairie", "TX"),
    ("McKinney", "TX"), ("Cape Coral", "FL"), ("Sioux Falls", "SD"), ("Peoria", "AZ"),
    ("Providence", "RI"), ("Vancouver", "WA"), ("Knoxville", "TN"), ("Akron", "OH"),
    ("Shreveport", "LA"), ("Mobile", "AL"), ("Brownsville", "TX"), ("Newport News", "VA"),
    ("Fort Lauderdale", "FL"), ("Chattanooga", "TN"), ("Tempe", "AZ"), ("Aurora", "IL"),
    ("Santa Rosa", "CA"), ("Eugene", "OR"), ("Elk Grove", "CA"), ("Salem", "OR"),
    ("Ontario", "CA"), ("Cary", "NC"), ("Rancho Cucamonga", "CA"), ("Oceanside", "CA"),
    ("Lancaster", "CA"), ("Garden Grove", "CA"), ("Pembroke Pines", "FL"), ("Fort Collins", "CO"),
    ("Palmdale", "CA"), ("Springfield", "MO"), ("Clarksville", "TN"), ("Rockford", "IL"),
    ("Alexandria", "VA"), ("Springfield", "MA"), ("Jackson", "MS"), ("Hartford", "CT"),
    ("Manchester", "NH"), ("Burlington", "VT"), ("Portland", "ME"), ("Wilmington", "DE"),
    ("Charleston", "WV"), ("Billings", "MT"), ("Fargo", "ND"), ("Cheyenne", "WY"),
    ("Bridgeport", "CT"), ("Charleston", "SC"), ("Columbia", "SC"), ("Cedar Rapids", "IA"),
    ("Ann Arbor", "MI"), ("Evansville", "IN"), ("Dayton", "OH"), ("Allentown", "PA"),
    ("Savannah", "GA"), ("Syracuse", "NY"), ("Bangor", "ME"), ("Missoula", "MT"),
    ("Bismarck", "ND"), ("Casper", "WY"), ("Rapid City", "SD"), ("Juneau", "AK"), ("Hilo", "HI"),
    ("Nampa", "ID"), ("Provo", "UT"), ("Las Cruces", "NM"), ("Topeka", "KS"), ("Gulfport", "MS"),
    ("Lafayette", "LA"), ("Duluth", "MN"), ("Green Bay", "WI"), ("Erie", "PA"), ("Trenton", "NJ"),
    ("Dover", "DE"), ("Annapolis", "MD"), ("Concord", "NH"), ("Montpelier", "VT"),
    ("Warwick", "RI"), ("New Haven", "CT"), ("Huntington", "WV"), ("Fort Smith", "AR"),
    ("Bowling Green", "KY"), ("Asheville", "NC"), ("Greenville", "SC"), ("Macon", "GA"),
    ("Pensacola", "FL"), ("Tuscaloosa", "AL"), ("Waco", "TX"), ("Flagstaff", "AZ"),
    ("Carson City", "NV"), ("Bend", "OR"), ("Bellingham", "WA"), ("Pueblo", "CO"),
];

/// Openings of small-town names (`"Spring" + "field"`).
#[rustfmt::skip]
pub(super) const TOWN_HEADS: &[&str] = &[
    "Spring", "Mill", "Fair", "Green", "Oak", "Cedar", "Maple", "Pine", "River", "Lake", "Clear",
    "Elm", "Ash", "Red", "White", "Black", "Stone", "Brook", "Glen", "Wood", "North", "South",
    "East", "West", "New", "Rock", "Sand", "Silver", "Gold", "Bell", "Mount", "Hazel", "Rose",
    "Willow", "Marsh", "Bridge", "Kings", "Queens", "Fox", "Deer",
];

/// Endings of small-town names.
#[rustfmt::skip]
pub(super) const TOWN_TAILS: &[&str] = &[
    "field", "brook", "view", "ville", "ton", "wood", "dale", " Springs", " Falls", " City",
    "port", "burg", "ford", "land", "haven", " Grove", " Hills", " Valley", "mont", " Park",
];

/// Email domains and their weights.
pub(super) const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 40),
    ("yahoo.com", 15),
    ("outlook.com", 9),
    ("hotmail.com", 10),
    ("icloud.com", 12),
    ("aol.com", 5),
    ("proton.me", 3),
];

/// First words of random email handles.
#[rustfmt::skip]
pub(super) const HANDLE_WORDS: &[&str] = &[
    "sunny", "blue", "happy", "lucky", "silver", "golden", "crazy", "quiet", "wild", "little",
    "big", "red", "green", "cool", "sweet", "brave", "swift", "lazy", "night", "star",
];

/// Second words of random email handles.
#[rustfmt::skip]
pub(super) const HANDLE_NOUNS: &[&str] = &[
    "fox", "bear", "wolf", "cat", "tiger", "eagle", "hawk", "rider", "runner", "dancer", "chef",
    "gamer", "fan", "mom", "dad", "girl", "guy", "bird", "moon", "river",
];
