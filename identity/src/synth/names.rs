//! Name lists: common US surnames and given names in rough order of
//! frequency (the generator weights them by rank, Zipf-like), syllables for
//! the long tail of rare names, nicknames, look-alike twin names and the
//! accented spellings some names are written with.

/// Common US surnames, most frequent first (2010 census order, roughly),
/// with Hispanic, Asian, African and European names. Apostrophes and spaces
/// are kept as people write them (`O'Brien`, `De La Cruz`).
#[rustfmt::skip]
pub(super) const SURNAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander",
    "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes",
    "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
    "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker",
    "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer",
    "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills",
    "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto",
    "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins",
    "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight",
    "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley",
    "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews",
    "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Guerrero",
    "George", "Chapman", "Rios", "Estrada", "Ortega", "Watkins", "Greene", "Nunez", "Wheeler",
    "Valdez", "Harper", "Burke", "Larson", "Santiago", "Maldonado", "Morrison", "Franklin",
    "Carlson", "Austin", "Dominguez", "Carr", "Lawson", "Jacobs", "O'Brien", "Lynch", "Singh",
    "Vega", "Bishop", "Montgomery", "Oliver", "Jensen", "Harvey", "Williamson", "Gilbert", "Dean",
    "Sims", "Espinoza", "Howell", "Li", "Wong", "Reid", "Hanson", "Le", "McCoy", "Garrett",
    "Burton", "Fuller", "Wang", "Weber", "Welch", "Rojas", "Lucas", "Marquez", "Fields", "Park",
    "Yang", "Little", "Banks", "Padilla", "Day", "Walsh", "Bowman", "Schultz", "Luna", "Fowler",
    "Mejia", "Davidson", "Acosta", "Brewer", "May", "Holland", "Juarez", "Newman", "Pearson",
    "Curtis", "Cortez", "Douglas", "Schneider", "Joseph", "Barrett", "Navarro", "Figueroa",
    "Keller", "Avila", "Wade", "Molina", "Stanley", "Hopkins", "Campos", "Barnett", "Bates",
    "Chambers", "Caldwell", "Beck", "Lambert", "Miranda", "O'Connor", "De Leon", "De La Cruz",
    "Castaneda", "Calderon", "Velazquez", "Huang", "Zhang", "Wu", "Liu", "Chan", "Khan", "Lin",
    "Chang", "Ali", "Shah", "Trevino", "Solis", "O'Neill", "Huynh", "Choi", "Ho", "Kaur", "Vang",
    "Chung", "Lam", "Xiong", "Truong", "Phan", "Lim", "Vo", "Vu", "Tang", "Lu", "Yu", "Zhou",
    "Tanaka", "Nakamura", "Yamamoto", "Das", "Gupta", "Sharma", "Kumar", "Reddy", "Mohamed",
    "Ahmed", "Hassan", "Ibrahim", "Abdi", "Okafor", "Mensah", "Adeyemi", "Okonkwo", "Diallo",
    "Osei", "Kowalski", "Nowak", "Novak", "Rossi", "Romano", "Russo", "Costa", "Schafer", "Larsen",
    "Lindqvist", "Ivanov", "O'Donnell", "O'Connell", "O'Neal", "D'Angelo", "De Jesus", "Van Dyke",
];

/// Female given names of US adults, most frequent first.
#[rustfmt::skip]
pub(super) const FEMALE: &[&str] = &[
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Dorothy",
    "Rebecca", "Sharon", "Laura", "Cynthia", "Amy", "Kathleen", "Angela", "Shirley", "Brenda",
    "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Katherine", "Christine", "Helen", "Debra",
    "Rachel", "Carolyn", "Janet", "Maria", "Catherine", "Heather", "Diane", "Olivia", "Julie",
    "Joyce", "Victoria", "Ruth", "Virginia", "Lauren", "Kelly", "Christina", "Joan", "Evelyn",
    "Judith", "Andrea", "Hannah", "Megan", "Cheryl", "Jacqueline", "Martha", "Madison", "Teresa",
    "Gloria", "Sara", "Janice", "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean",
    "Alice", "Judy", "Isabella", "Julia", "Grace", "Amber", "Denise", "Danielle", "Marilyn",
    "Beverly", "Charlotte", "Natalie", "Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis",
    "Lori", "Marie", "Tiffany", "Kathy", "Tammy", "Crystal", "Rose", "Lillian", "Jane", "Norma",
    "Paula", "Wanda", "Tina", "Phyllis", "Annie", "Lois", "Mildred", "Dawn", "Connie", "Gail",
    "Sherry", "Peggy", "Rita", "Edna", "Ellen", "Robin", "Tracy", "Erin", "Ella", "Chloe", "Mia",
    "Ava", "Leslie", "Carmen", "Rosa", "Ana", "Yolanda", "Guadalupe", "Veronica", "Monica",
    "Erica", "Valerie", "Holly", "Stacy", "Vanessa", "Jasmine", "Courtney", "Alyssa", "Brianna",
    "Destiny", "Morgan", "Taylor", "Haley", "Allison", "Sydney", "Kristen", "Lindsay", "Caitlin",
    "Erika", "Vivian", "Felicia", "Latoya", "Keisha", "Tanisha", "Ebony", "Shanice", "Aaliyah",
    "Imani", "Jada", "Nia", "Sonia", "Rosemary", "Josephine", "Eleanor", "Florence", "Irene",
    "Louise", "Hazel", "Ethel", "Lucille", "Thelma", "Bonnie", "Loretta", "Sylvia", "Marjorie",
    "Geraldine", "Regina", "Claudia", "Elena", "Sofia", "Lucia", "Isabel", "Adriana", "Gabriela",
    "Daniela", "Alejandra", "Leticia", "Araceli", "Yesenia", "Marisol", "Mayra", "Esperanza",
    "Juana", "Silvia", "Mei", "Ling", "Xiu", "Yan", "Priya", "Anjali", "Deepa", "Sunita", "Aiko",
    "Yuki", "Hoa", "Linh", "Thuy", "Mai", "Ji-yeon", "Hana", "Aisha", "Fatima", "Amina", "Ngozi",
    "Chiamaka", "Abena", "Nkechi", "Zainab", "Halima", "Zoe", "Lily", "Layla", "Nora", "Stella",
    "Hailey", "Kylie", "Lila", "Lucy", "Renee", "Noemi", "Ines", "Maya", "Leah", "Audrey",
    "Claire", "Savannah", "Brooke", "Paige", "Kaitlyn", "Bethany", "Jenna", "Molly", "Caroline",
    "Madeline", "Gabrielle", "Mackenzie", "Melanie", "Tara", "Meredith", "Lydia", "Naomi",
    "Ruby", "Violet", "Autumn", "Faith", "Hope", "Kristina", "Kristin", "Misty", "Shannon",
    "April", "Tonya", "Marcia", "Sheila", "Carla", "Kara", "Wendy", "Dana", "Jill", "Lorraine",
    "Beatrice", "Bernice", "Charlene", "Darlene", "Juanita", "Mona", "Nina", "Olga", "Pearl",
    "Priscilla", "Roberta", "Stacey", "Toni", "Yvonne", "Jeanette", "Colleen", "Deanna", "Gina",
    "Heidi", "Alexandra", "Eva", "Danica", "Anastasia", "Ingrid", "Greta", "Siobhan", "Colette",
];

/// Male given names of US adults, most frequent first.
#[rustfmt::skip]
pub(super) const MALE: &[&str] = &[
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
    "Andrew", "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
    "Jason", "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
    "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
    "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron",
    "Jose", "Adam", "Nathan", "Henry", "Zachary", "Douglas", "Peter", "Kyle", "Noah", "Ethan",
    "Jeremy", "Christian", "Walter", "Keith", "Austin", "Roger", "Terry", "Sean", "Gerald", "Carl",
    "Dylan", "Harold", "Jordan", "Jesse", "Bryan", "Lawrence", "Arthur", "Gabriel", "Bruce",
    "Logan", "Billy", "Joe", "Alan", "Juan", "Elijah", "Willie", "Albert", "Wayne", "Randy",
    "Mason", "Vincent", "Liam", "Roy", "Bobby", "Caleb", "Bradley", "Russell", "Lucas", "Philip",
    "Eugene", "Louis", "Johnny", "Howard", "Ralph", "Shawn", "Fred", "Carlos", "Victor", "Martin",
    "Travis", "Luis", "Jimmy", "Craig", "Stanley", "Leonard", "Dale", "Curtis", "Todd", "Earl",
    "Chad", "Derek", "Cody", "Marcus", "Luke", "Evan", "Ian", "Jared", "Corey", "Shane", "Troy",
    "Allen", "Antonio", "Manuel", "Miguel", "Jorge", "Francisco", "Pedro", "Alejandro",
    "Ricardo", "Rafael", "Fernando", "Eduardo", "Javier", "Mario", "Roberto", "Sergio", "Hector",
    "Raul", "Ramon", "Ruben", "Andres", "Jesus", "Angel", "Oscar", "Diego", "Julio", "Cesar",
    "Marco", "Armando", "Enrique", "Guillermo", "Alfredo", "Salvador", "Hugo", "Rene", "Andre",
    "Darnell", "DeShawn", "Terrell", "Jamal", "Tyrone", "Malik", "Darius", "Jerome", "Reginald",
    "Cedric", "Lamar", "Kwame", "Kofi", "Chukwuemeka", "Oluwaseun", "Emeka", "Tunde", "Mohammed",
    "Ahmed", "Ali", "Omar", "Hassan", "Ibrahim", "Yusuf", "Wei", "Jian", "Hao", "Ming", "Jun",
    "Hiroshi", "Takeshi", "Kenji", "Raj", "Rahul", "Amit", "Vikram", "Sanjay", "Arjun", "Minh",
    "Tuan", "Huy", "Duc", "Sung", "Jin", "Hyun", "Min-jun", "Glenn", "Gordon", "Herbert", "Lee",
    "Leroy", "Lloyd", "Melvin", "Milton", "Norman", "Oliver", "Owen", "Phillip", "Ray", "Ricky",
    "Rodney", "Ross", "Stuart", "Theodore", "Tony", "Vernon", "Wesley", "Warren", "Clarence",
    "Clifford", "Dean", "Don", "Edwin", "Eddie", "Francis", "Franklin", "Gilbert", "Gene",
    "Harry", "Harvey", "Herman", "Jay", "Jeff", "Jim", "Jon", "Leon", "Marvin", "Max", "Micheal",
    "Neil", "Perry", "Randall", "Seth", "Spencer", "Tom", "Wade", "Wallace", "Blake", "Brett",
    "Brent", "Colin", "Connor", "Cole", "Dustin", "Garrett", "Grant", "Hunter", "Isaac",
    "Isaiah", "Jackson", "Jake", "Jayden", "Josiah", "Julian", "Landon", "Levi", "Mitchell",
    "Nathaniel", "Preston", "Riley", "Trevor", "Xavier", "Carter", "Chase", "Colton", "Devin",
    "Dominic", "Elias", "Gavin", "Ivan", "Kai", "Maxwell", "Miles", "Parker", "Sebastian",
    "Wyatt", "Zane", "Aiden", "Ezra", "Hudson", "Leo", "Lincoln", "Mateo", "Silas", "Frederick",
    "Leonardo", "Stefan", "Lars", "Dmitri", "Pavel", "Giovanni", "Declan", "Killian",
];

/// Openings of rare surnames built from syllables ("Kal" + "ver" + "son").
#[rustfmt::skip]
pub(super) const SURNAME_HEADS: &[&str] = &[
    "Kal", "Bren", "Dor", "Hal", "Mor", "Tal", "Vin", "Wes", "Ash", "Bel", "Cor", "Dal", "Fen",
    "Gar", "Hol", "Kes", "Lin", "Mar", "Nor", "Pen", "Ral", "Sel", "Tor", "Vel", "Wil", "Yor",
    "Zan", "Ab", "Ber", "Car", "Dun", "El", "Fal", "Gil", "Har", "Ing", "Jor", "Kir", "Lom",
    "Mel", "Nes", "Os", "Pel", "Quin", "Ros", "Sten", "Thal", "Ul", "Var", "Wen", "Bar", "Brock",
    "Hart", "Stan", "Rad", "Kov", "Lund", "Sor", "Vas", "Okon", "Ade", "Nak", "Tak", "Hua",
    "Zhen", "Bao", "Quan", "Dra", "Gran", "Pry", "Stra", "Tre", "Mac", "Fitz", "Van", "Del",
];

/// Middle syllables of rare names (zero, one or two are used).
#[rustfmt::skip]
pub(super) const SURNAME_MIDS: &[&str] = &[
    "a", "e", "i", "o", "er", "en", "an", "in", "ow", "el", "ar", "is", "ul", "ov", "at", "ver",
    "den", "mon", "ber", "tin",
];

/// Endings of rare surnames.
#[rustfmt::skip]
pub(super) const SURNAME_TAILS: &[&str] = &[
    "son", "sen", "berg", "man", "ton", "ley", "ford", "well", "wick", "stein", "ski", "ez",
    "ini", "elli", "ov", "enko", "ashi", "oto", "ura", "ade", "ola", "ani", "ich", "ak", "ers",
    "by", "ham", "field", "wood", "more", "ridge", "dale", "land", "ett", "ing", "strom",
    "quist", "mann", "ler", "ard", "ier", "eau", "ova", "idis", "opoulos", "escu", "yan", "ian",
    "ic", "ston", "worth", "ner", "lund",
];

/// Openings of rare given names.
#[rustfmt::skip]
pub(super) const GIVEN_HEADS: &[&str] = &[
    "Ka", "Ja", "Bri", "Da", "Ma", "La", "Sha", "Ty", "Ro", "Ze", "Ni", "Ay", "Ke", "Jo", "Mi",
    "Le", "Ar", "El", "Na", "Dar", "Tre", "Ry", "Cam", "Kal", "Ori", "Sa", "Ta", "Zy", "Ad",
    "Bra", "Cy", "De", "Ha", "Ji", "Lo", "Mar", "Ra", "Sky", "Vi", "Xa",
];

/// Endings of rare female given names.
#[rustfmt::skip]
pub(super) const GIVEN_TAILS_FEMALE: &[&str] = &[
    "lyn", "na", "ra", "ya", "leigh", "elle", "ia", "ette", "issa", "ani", "lee", "rah", "ena",
    "ira", "ola", "anna", "lise", "mira", "nae", "ssa",
];

/// Endings of rare male given names.
#[rustfmt::skip]
pub(super) const GIVEN_TAILS_MALE: &[&str] = &[
    "den", "ron", "ton", "ius", "an", "el", "o", "ell", "ric", "ias", "vin", "son", "ren",
    "rick", "ard", "mir", "quan", "dan", "lon", "ven",
];

/// Formal given names and common nicknames of them: `(formal, nickname)`.
#[rustfmt::skip]
pub(super) const NICKNAMES: &[(&str, &str)] = &[
    ("Robert", "Bob"), ("Robert", "Rob"), ("Robert", "Bobby"), ("William", "Bill"),
    ("William", "Will"), ("William", "Billy"), ("Elizabeth", "Liz"), ("Elizabeth", "Beth"),
    ("Elizabeth", "Betsy"), ("Katherine", "Kate"), ("Katherine", "Katie"), ("Michael", "Mike"),
    ("Jennifer", "Jen"), ("Jennifer", "Jenny"), ("James", "Jim"), ("James", "Jimmy"),
    ("John", "Jack"), ("John", "Johnny"), ("Richard", "Rick"), ("Richard", "Dick"),
    ("Joseph", "Joe"), ("Thomas", "Tom"), ("Christopher", "Chris"), ("Charles", "Charlie"),
    ("Charles", "Chuck"), ("Daniel", "Dan"), ("Daniel", "Danny"), ("Matthew", "Matt"),
    ("Anthony", "Tony"), ("Donald", "Don"), ("Steven", "Steve"), ("Stephen", "Steve"),
    ("Andrew", "Andy"), ("Andrew", "Drew"), ("Kenneth", "Ken"), ("Timothy", "Tim"),
    ("Ronald", "Ron"), ("Edward", "Ed"), ("Edward", "Eddie"), ("Edward", "Ted"),
    ("Jeffrey", "Jeff"), ("Nicholas", "Nick"), ("Jonathan", "Jon"), ("Lawrence", "Larry"),
    ("Gregory", "Greg"), ("Alexander", "Alex"), ("Patrick", "Pat"), ("Raymond", "Ray"),
    ("Samuel", "Sam"), ("Benjamin", "Ben"), ("Zachary", "Zach"), ("Douglas", "Doug"),
    ("Peter", "Pete"), ("Gerald", "Jerry"), ("Frederick", "Fred"), ("Albert", "Al"),
    ("Joshua", "Josh"), ("Jacob", "Jake"), ("Nathan", "Nate"), ("Bradley", "Brad"),
    ("Philip", "Phil"), ("Vincent", "Vince"), ("Walter", "Walt"), ("Eugene", "Gene"),
    ("Margaret", "Peggy"), ("Margaret", "Maggie"), ("Margaret", "Meg"), ("Patricia", "Pat"),
    ("Patricia", "Patty"), ("Patricia", "Trish"), ("Susan", "Sue"), ("Susan", "Susie"),
    ("Deborah", "Debbie"), ("Deborah", "Deb"), ("Barbara", "Barb"), ("Kimberly", "Kim"),
    ("Rebecca", "Becky"), ("Cynthia", "Cindy"), ("Pamela", "Pam"), ("Christine", "Chris"),
    ("Victoria", "Vicky"), ("Victoria", "Tori"), ("Jacqueline", "Jackie"), ("Samantha", "Sam"),
    ("Abigail", "Abby"), ("Alexandra", "Alex"), ("Jessica", "Jess"), ("Jessica", "Jessie"),
    ("Amanda", "Mandy"), ("Judith", "Judy"), ("Dorothy", "Dot"), ("Dorothy", "Dottie"),
    ("Catherine", "Cathy"), ("Catherine", "Kate"), ("Frances", "Fran"), ("Sandra", "Sandy"),
    ("Kathleen", "Kathy"), ("Virginia", "Ginny"), ("Theresa", "Terri"), ("Melissa", "Missy"),
    ("Stephanie", "Steph"), ("Francisco", "Paco"), ("Jose", "Pepe"), ("Guadalupe", "Lupe"),
];

/// Given names that look alike, for twins: `(name, sex, name, sex)`.
#[rustfmt::skip]
pub(super) const LOOKALIKE_TWINS: &[(&str, &str, &str, &str)] = &[
    ("Mark", "male", "Mary", "female"), ("Ella", "female", "Emma", "female"),
    ("Ethan", "male", "Evan", "male"), ("Ava", "female", "Eva", "female"),
    ("Daniel", "male", "Danielle", "female"), ("Julian", "male", "Julia", "female"),
    ("Oliver", "male", "Olivia", "female"), ("Kyle", "male", "Kylie", "female"),
    ("Tyler", "male", "Taylor", "female"), ("Mason", "male", "Madison", "female"),
    ("Jason", "male", "Justin", "male"), ("Lily", "female", "Lila", "female"),
    ("Chloe", "female", "Zoe", "female"), ("Noah", "male", "Nora", "female"),
    ("Logan", "male", "Lauren", "female"), ("Hailey", "female", "Hannah", "female"),
    ("Caleb", "male", "Carter", "male"), ("Brian", "male", "Brianna", "female"),
    ("Paul", "male", "Paula", "female"), ("Eric", "male", "Erica", "female"),
    ("Liam", "male", "Leah", "female"), ("Ryan", "male", "Riley", "male"),
];

/// Names as written plain and with their accents: `(plain, accented)`.
#[rustfmt::skip]
pub(super) const ACCENTED: &[(&str, &str)] = &[
    ("Garcia", "García"), ("Rodriguez", "Rodríguez"), ("Martinez", "Martínez"),
    ("Hernandez", "Hernández"), ("Lopez", "López"), ("Gonzalez", "González"), ("Perez", "Pérez"),
    ("Sanchez", "Sánchez"), ("Ramirez", "Ramírez"), ("Gomez", "Gómez"), ("Diaz", "Díaz"),
    ("Jimenez", "Jiménez"), ("Alvarez", "Álvarez"), ("Fernandez", "Fernández"),
    ("Gutierrez", "Gutiérrez"), ("Munoz", "Muñoz"), ("Nunez", "Núñez"), ("Pena", "Peña"),
    ("Vasquez", "Vásquez"), ("Velazquez", "Velázquez"), ("Juarez", "Juárez"),
    ("Marquez", "Márquez"), ("Dominguez", "Domínguez"), ("Castaneda", "Castañeda"),
    ("Calderon", "Calderón"), ("Mejia", "Mejía"), ("Chavez", "Chávez"), ("Suarez", "Suárez"),
    ("Jose", "José"), ("Maria", "María"), ("Jesus", "Jesús"),
    ("Sofia", "Sofía"), ("Andres", "Andrés"), ("Raul", "Raúl"), ("Ramon", "Ramón"),
    ("Ruben", "Rubén"), ("Hector", "Héctor"), ("Lucia", "Lucía"), ("Ines", "Inés"),
    ("Renee", "Renée"), ("Zoe", "Zoë"), ("Noemi", "Noemí"), ("Rene", "René"),
    ("Andre", "André"), ("Chloe", "Chloé"), ("Angel", "Ángel"), ("Cesar", "César"),
];
